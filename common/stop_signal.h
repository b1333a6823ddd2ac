// How a service learns it should stop: SIGINT and SIGTERM set a flag that its loop reads, instead of
// killing it mid-write. One copy for every service's main.
#pragma once

namespace pier::stop_signal {

// SIGINT and SIGTERM set the flag; SIGPIPE is ignored (a peer that went away is an error value).
void install();
bool requested();
// Sets the flag from inside the process (a service stopping for its own reasons).
void request();

}  // namespace pier::stop_signal
