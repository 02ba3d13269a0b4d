// Docker's default seccomp profile (moby profiles/seccomp/default.json),
// embedded at build time from Debian's golang-github-docker-docker-dev. JSON
// in Docker's profile format (defaultAction, archMap, syscalls with
// includes/excludes by arch, capability and minimal kernel), not yet an OCI
// linux.seccomp object: see services/cnt_runner/seccomp.h.
#ifndef CLOONIX_THIRD_PARTY_SECCOMP_DEFAULT_PROFILE_H_
#define CLOONIX_THIRD_PARTY_SECCOMP_DEFAULT_PROFILE_H_

namespace cloonix {

const char* DefaultSeccompProfileJson();

}  // namespace cloonix

#endif  // CLOONIX_THIRD_PARTY_SECCOMP_DEFAULT_PROFILE_H_
