// The Internet checksum (RFC 1071) over big-endian 16-bit words, for the
// nat's frame code: slirp_stack's DHCP frames, big_segments' SYN rewrite,
// IP fragments and TSO checksum seeds. (common/vnet_port's CompleteChecksum
// is the fast one for whole packets on the data path.)
#ifndef CLOONIX_SERVICES_NAT_INET_CHECKSUM_H_
#define CLOONIX_SERVICES_NAT_INET_CHECKSUM_H_

#include <cstddef>
#include <cstdint>

namespace cloonix {

// Adds the words of p[0..n) to `sum` (an odd last byte is padded with 0).
inline uint64_t SumWords(const uint8_t* p, size_t n, uint64_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += (p[i] << 8) | p[i + 1];
  if (n % 2) sum += static_cast<uint64_t>(p[n - 1]) << 8;
  return sum;
}

// The ones-complement sum folded to 16 bits (not complemented).
inline uint16_t Fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// The checksum to store for p[0..n) (its checksum field zeroed) plus `sum`
// (e.g. a pseudo-header).
inline uint16_t InetChecksum(const uint8_t* p, size_t n, uint64_t sum = 0) {
  return static_cast<uint16_t>(~Fold(SumWords(p, n, sum)));
}

// The IPv4 pseudo-header of a TCP or UDP packet whose IPv4 header is `ip`
// and whose layer-4 part is `l4_len` bytes.
inline uint64_t PseudoHeaderSum(const uint8_t* ip, uint8_t proto,
                                size_t l4_len) {
  return SumWords(ip + 12, 8) + proto + l4_len;
}

}  // namespace cloonix

#endif  // CLOONIX_SERVICES_NAT_INET_CHECKSUM_H_
