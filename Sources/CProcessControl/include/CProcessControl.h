#ifndef C_PROCESS_CONTROL_H
#define C_PROCESS_CONTROL_H

#include <spawn.h>

/// Makes the calling process the reaper of its orphaned descendants (Linux's
/// PR_SET_CHILD_SUBREAPER): a process a lesson program started and left behind, even one
/// that escaped its process group with setsid, becomes the runner's child instead of
/// init's, so the runner can find and stop it. Returns 0 on success, -1 where there is no
/// such call. (prctl is variadic, which Swift cannot call.)
int lessons_become_child_subreaper(void);

/// Adds to `actions` the closing of every descriptor from `lowest` up, so that a spawned
/// program gets only the descriptors it is given. Returns 0 on success. (glibc declares
/// posix_spawn_file_actions_addclosefrom_np only with _GNU_SOURCE.)
int lessons_spawn_close_from(posix_spawn_file_actions_t *actions, int lowest);

#endif
