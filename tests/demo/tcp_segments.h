// What the kernel counts on one end of a TCP connection. Its own file: the count comes from
// <linux/tcp.h>'s tcp_info, which clashes with glibc's older <netinet/tcp.h> (httplib.h includes it).
#pragma once

#include <cstdint>

namespace pier::test_support {

// The segments with data this end of the connection has received, 0 when the kernel does not say.
uint32_t data_segments_in(int fd);

}  // namespace pier::test_support
