#define _GNU_SOURCE
#include "CProcessControl.h"

#include <fcntl.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/prctl.h>

int lessons_become_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }
#else
int lessons_become_child_subreaper(void) { return -1; }
#endif

int lessons_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  return posix_spawn_file_actions_addclosefrom_np(actions, lowest);
#else
  // Without closefrom: each descriptor up to the limit that is open now.
  long limit = sysconf(_SC_OPEN_MAX);
  for (int descriptor = lowest; descriptor < limit && descriptor < 65536; descriptor++) {
    if (fcntl(descriptor, F_GETFD) != -1) posix_spawn_file_actions_addclose(actions, descriptor);
  }
  return 0;
#endif
}
