// Whole-file reads and replacements, the two ways pier touches its own small files (pid files, saved
// LB status and spec, haproxy.cfg, key allowlists, endpoint files).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/status.h"

namespace pier::files {

// The file's bytes; "" when it is missing or cannot be read (callers that must tell the two apart
// check for the file first).
std::string read_text(const std::string& path);

// Replaces `path` as a whole: the text is written to `path`.tmp (created with `mode`, which the umask
// does not narrow) and renamed over `path`, so a reader (or a process restarted after a crash) sees the
// old file or the new one, never half of one. No fsync: what pier keeps this way is rewritten from the
// control plane after a power loss. Invalid(path, why) when any step fails; `path` is then unchanged.
Status write_atomically(const std::string& path, std::string_view text, mode_t mode = 0644);

}  // namespace pier::files
