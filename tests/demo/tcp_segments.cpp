#include "tests/demo/tcp_segments.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace pier::test_support {

uint32_t data_segments_in(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  return ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 ? info.tcpi_data_segs_in : 0;
}

}  // namespace pier::test_support
