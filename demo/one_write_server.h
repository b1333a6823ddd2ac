// An httplib::Server whose every response leaves in one send(): status line, headers and body together.
// cpp-httplib writes the headers and then the body in two sends, so an instance killed between them
// leaves HAProxy holding headers it has already passed on: the client's request fails, and no load
// balancer can send it again. Whole responses leave a kill only two outcomes a load balancer handles:
// nothing sent (HAProxy retries the request elsewhere, retry-on empty-response) or all of it sent.
#pragma once

#include <httplib.h>

namespace pier::demo {

class OneWriteServer : public httplib::Server {
 private:
  // Serves one connection's requests (keep-alive as httplib does: at most keep_alive_max_count_
  // requests, each waited for up to keep_alive_timeout_sec_), flushing each response whole.
  bool process_and_close_socket(socket_t sock) override;
};

}  // namespace pier::demo
