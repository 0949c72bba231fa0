// The files a lesson program and everything it starts write, for the cell cache: preloaded
// (LD_PRELOAD) into the program by the runner, and inherited by its children through the
// environment, it notes every file opened for writing, created, renamed or removed, in the
// log that LESSONS_WRITE_LOG names. A cached block reads the part of the log written while it
// ran, to keep the files it wrote (a hit writes them again) or to refuse what a hit could not
// redo (a file removed, or added to rather than written whole).
//
// Each record is one write to the log, opened for appending each time (a program that
// closes every descriptor, or one that forks, never writes into someone else's file):
//
//     OP STAMP PATH \0
//
// OP is 'C' (created), 'T' (written from empty: truncated), 'W' (opened for writing, its
// contents kept), 'A' (opened for appending) or 'D' (removed, or renamed away). STAMP is the
// file's size and modification time as it was opened, for 'W' and 'A' (so that a file opened
// for writing and left alone can be told apart), "-" otherwise. PATH is absolute. Only
// regular files are noted. What this cannot see: a program linked statically, a raw system
// call, a file mapped into memory before the block.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef __linux__

/// Marks the hook as loaded: the runtime looks this symbol up before trusting an empty log.
int lessons_write_hook_version = 1;

/// The next definition of `name` (libc's), looked up once.
#define REAL(name)                                                                         \
  static __typeof__(name) *real_##name;                                                    \
  if (!real_##name) real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

/// The log's path, read once as the process starts (getenv is not safe beside a thread
/// that changes the environment); empty when there is none.
static char log_path[PATH_MAX];

__attribute__((constructor)) static void find_log(void) {
  const char *log = getenv("LESSONS_WRITE_LOG");
  if (log && log[0] == '/' && strlen(log) < sizeof log_path) strcpy(log_path, log);
}

/// Appends one record to the log, if there is one: `op`, then what the file was like when
/// it was opened (`stamp`, for 'W' and 'A': "SIZE:SECONDS:NANOSECONDS"; otherwise "-"), then
/// the path. Keeps errno as the caller left it.
static void note_stamped(char op, const struct stat *stamp, const char *path) {
  if (!log_path[0] || !path || path[0] != '/' || strcmp(path, log_path) == 0) return;
  char record[PATH_MAX + 80];
  int prefix;
  if (stamp)
    prefix = snprintf(record, 80, "%c %lld:%lld:%ld ", op, (long long)stamp->st_size,
                      (long long)stamp->st_mtim.tv_sec, (long)stamp->st_mtim.tv_nsec);
  else
    prefix = snprintf(record, 80, "%c - ", op);
  size_t length = strlen(path);
  if (prefix < 0 || prefix >= 80 || length >= PATH_MAX) return;
  memcpy(record + prefix, path, length);
  record[prefix + length] = '\0';
  length += (size_t)prefix + 1;
  int saved = errno;
  // The system calls themselves: the log's own opening is not a write to note.
  long descriptor =
      syscall(SYS_openat, AT_FDCWD, log_path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY, 0);
  if (descriptor >= 0) {
    ssize_t written = syscall(SYS_write, (int)descriptor, record, length);
    (void)written;
    syscall(SYS_close, (int)descriptor);
  }
  errno = saved;
}

static void note(char op, const char *path) { note_stamped(op, NULL, path); }

/// `path` (relative to `directory`, a descriptor or AT_FDCWD) as an absolute path in
/// `buffer`: the folder resolved, the last name kept as it is (it may be a file that is gone).
static const char *absolute(int directory, const char *path, char *buffer) {
  if (!path) return NULL;
  char folder[PATH_MAX];
  const char *slash = strrchr(path, '/');
  const char *name = slash ? slash + 1 : path;
  if (path[0] == '/') {
    size_t length = slash == path ? 1 : (size_t)(slash - path);
    if (length >= sizeof folder) return NULL;
    memcpy(folder, path, length);
    folder[length] = '\0';
  } else {
    char base[PATH_MAX];
    if (directory == AT_FDCWD) {
      if (!getcwd(base, sizeof base)) return NULL;
    } else {
      char link[64];
      snprintf(link, sizeof link, "/proc/self/fd/%d", directory);
      ssize_t length = readlink(link, base, sizeof base - 1);
      if (length < 0) return NULL;
      base[length] = '\0';
    }
    size_t prefix = slash ? (size_t)(slash - path) : 0;
    if (snprintf(folder, sizeof folder, "%s/%.*s", base, (int)prefix, path) >= (int)sizeof folder)
      return NULL;
  }
  char resolved[PATH_MAX];
  if (!realpath(folder, resolved)) return NULL;
  if (snprintf(buffer, PATH_MAX, "%s/%s", strcmp(resolved, "/") == 0 ? "" : resolved, name) >=
      PATH_MAX)
    return NULL;
  return buffer;
}

/// Whether `path` names a regular file now (1), something else (0), or nothing (-1).
static int regular(int directory, const char *path) {
  struct stat info;
  if (fstatat(directory, path, &info, AT_SYMLINK_NOFOLLOW) != 0) return -1;
  return S_ISREG(info.st_mode) ? 1 : 0;
}

/// Whether `flags` open a file to change it.
static int writes(int flags) {
  return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC));
}

/// The operation an open with `flags` is, given whether the file was there before.
static char opening(int flags, int existed) {
  if (!existed) return 'C';
  if (flags & O_TRUNC) return 'T';
  return (flags & O_APPEND) ? 'A' : 'W';
}

/// Notes a descriptor just opened with `flags` on a file that `existed` (or not).
static void note_opened(int descriptor, int flags, int existed) {
  struct stat info;
  if (descriptor < 0 || fstat(descriptor, &info) != 0 || !S_ISREG(info.st_mode)) return;
  char link[64], path[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", descriptor);
  ssize_t length = readlink(link, path, sizeof path - 1);
  if (length <= 0) return;
  path[length] = '\0';
  char op = opening(flags, existed);
  note_stamped(op, op == 'W' || op == 'A' ? &info : NULL, path);
}

/// The open calls, one shape: look, open, note.
static int opened_at(int directory, const char *path, int flags, mode_t mode,
                     int (*open_at)(int, const char *, int, ...)) {
  if (!writes(flags)) return open_at(directory, path, flags, mode);
  int existed = regular(directory, path) >= 0;
  int descriptor = open_at(directory, path, flags, mode);
  if (descriptor >= 0) note_opened(descriptor, flags, existed);
  return descriptor;
}

static mode_t mode_argument(int flags, va_list arguments) {
  return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(arguments, mode_t) : 0;
}

/// One of the open calls, `name` with `parameters`: its mode read as open(2) reads it (only
/// with O_CREAT or O_TMPFILE), then opened from `directory` through libc's `real` (openat or
/// openat64) and noted.
#define OPEN_CALL(name, parameters, directory, real)               \
  int name parameters {                                            \
    REAL(real);                                                    \
    va_list arguments;                                             \
    va_start(arguments, flags);                                    \
    mode_t mode = mode_argument(flags, arguments);                 \
    va_end(arguments);                                             \
    return opened_at(directory, path, flags, mode, real_##real);   \
  }

OPEN_CALL(openat, (int directory, const char *path, int flags, ...), directory, openat)
OPEN_CALL(openat64, (int directory, const char *path, int flags, ...), directory, openat64)
OPEN_CALL(open, (const char *path, int flags, ...), AT_FDCWD, openat)
OPEN_CALL(open64, (const char *path, int flags, ...), AT_FDCWD, openat64)

// The checked forms that _FORTIFY_SOURCE builds call (no mode: no O_CREAT).
int __open_2(const char *path, int flags) { return open(path, flags); }
int __open64_2(const char *path, int flags) { return open64(path, flags); }
int __openat_2(int directory, const char *path, int flags) {
  return openat(directory, path, flags);
}
int __openat64_2(int directory, const char *path, int flags) {
  return openat64(directory, path, flags);
}

int creat(const char *path, mode_t mode) { return open(path, O_WRONLY | O_CREAT | O_TRUNC, mode); }
int creat64(const char *path, mode_t mode) {
  return open64(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

/// The open flags of an fopen mode ("r", "w+", "ab", ...).
static int stream_flags(const char *mode) {
  if (!mode) return O_RDONLY;
  int plus = strchr(mode, '+') != NULL;
  switch (mode[0]) {
    case 'w': return (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_TRUNC;
    case 'a': return (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_APPEND;
    default: return plus ? O_RDWR : O_RDONLY;
  }
}

static FILE *stream_opened(FILE *stream, int flags, int existed) {
  if (stream && writes(flags)) note_opened(fileno(stream), flags, existed);
  return stream;
}

/// Whether `path` was there before a stream opened with `flags` (1 when it is only read).
static int existed_before(const char *path, int flags) {
  return !writes(flags) || !path || regular(AT_FDCWD, path) >= 0;
}

FILE *fopen(const char *path, const char *mode) {
  REAL(fopen);
  int flags = stream_flags(mode), existed = existed_before(path, flags);
  return stream_opened(real_fopen(path, mode), flags, existed);
}

FILE *fopen64(const char *path, const char *mode) {
  REAL(fopen64);
  int flags = stream_flags(mode), existed = existed_before(path, flags);
  return stream_opened(real_fopen64(path, mode), flags, existed);
}

FILE *freopen(const char *path, const char *mode, FILE *stream) {
  REAL(freopen);
  int flags = stream_flags(mode), existed = existed_before(path, flags);
  return stream_opened(real_freopen(path, mode, stream), flags, existed);
}

FILE *freopen64(const char *path, const char *mode, FILE *stream) {
  REAL(freopen64);
  int flags = stream_flags(mode), existed = existed_before(path, flags);
  return stream_opened(real_freopen64(path, mode, stream), flags, existed);
}

/// Notes a file cut to `length` (emptied, or changed in place) when the cut worked.
static int truncated(int result, const char *path, off64_t length) {
  char buffer[PATH_MAX];
  if (result == 0 && regular(AT_FDCWD, path) == 1)
    note(length == 0 ? 'T' : 'W', absolute(AT_FDCWD, path, buffer));
  return result;
}

int truncate(const char *path, off_t length) {
  REAL(truncate);
  return truncated(real_truncate(path, length), path, length);
}

int truncate64(const char *path, off64_t length) {
  REAL(truncate64);
  return truncated(real_truncate64(path, length), path, length);
}

/// A rename: the old name removed, the new one written (created when nothing was there).
static void note_renamed(int from_directory, const char *from, int to_directory, const char *to,
                         int target_existed) {
  char old_path[PATH_MAX], new_path[PATH_MAX];
  if (regular(to_directory, to) != 1) return;
  note('D', absolute(from_directory, from, old_path));
  note(target_existed ? 'T' : 'C', absolute(to_directory, to, new_path));
}

int renameat2(int from_directory, const char *from, int to_directory, const char *to,
              unsigned int flags) {
  REAL(renameat2);
  int existed = regular(to_directory, to) >= 0;
  int result = real_renameat2(from_directory, from, to_directory, to, flags);
  if (result == 0) note_renamed(from_directory, from, to_directory, to, existed);
  return result;
}

int renameat(int from_directory, const char *from, int to_directory, const char *to) {
  REAL(renameat);
  int existed = regular(to_directory, to) >= 0;
  int result = real_renameat(from_directory, from, to_directory, to);
  if (result == 0) note_renamed(from_directory, from, to_directory, to, existed);
  return result;
}

int rename(const char *from, const char *to) {
  REAL(rename);
  int existed = regular(AT_FDCWD, to) >= 0;
  int result = real_rename(from, to);
  if (result == 0) note_renamed(AT_FDCWD, from, AT_FDCWD, to, existed);
  return result;
}

int unlinkat(int directory, const char *path, int flags) {
  REAL(unlinkat);
  int was_regular = regular(directory, path);
  char buffer[PATH_MAX];
  // Before the removal: afterwards its folder may be gone too.
  const char *where = absolute(directory, path, buffer);
  int result = real_unlinkat(directory, path, flags);
  if (result == 0 && was_regular == 1 && where) note('D', where);
  return result;
}

int unlink(const char *path) {
  REAL(unlink);
  int was_regular = regular(AT_FDCWD, path);
  char buffer[PATH_MAX];
  const char *where = absolute(AT_FDCWD, path, buffer);
  int result = real_unlink(path);
  if (result == 0 && was_regular == 1 && where) note('D', where);
  return result;
}

int remove(const char *path) {
  REAL(remove);
  int was_regular = regular(AT_FDCWD, path);
  char buffer[PATH_MAX];
  const char *where = absolute(AT_FDCWD, path, buffer);
  int result = real_remove(path);
  if (result == 0 && was_regular == 1 && where) note('D', where);
  return result;
}

/// A temporary file made from a template: created, under the name the template now holds.
static int made_temporary(int descriptor, const char *template) {
  char buffer[PATH_MAX];
  if (descriptor >= 0) note('C', absolute(AT_FDCWD, template, buffer));
  return descriptor;
}

int mkstemp(char *template) {
  REAL(mkstemp);
  return made_temporary(real_mkstemp(template), template);
}
int mkstemp64(char *template) {
  REAL(mkstemp64);
  return made_temporary(real_mkstemp64(template), template);
}
int mkostemp(char *template, int flags) {
  REAL(mkostemp);
  return made_temporary(real_mkostemp(template, flags), template);
}
int mkostemp64(char *template, int flags) {
  REAL(mkostemp64);
  return made_temporary(real_mkostemp64(template, flags), template);
}
int mkstemps(char *template, int suffix) {
  REAL(mkstemps);
  return made_temporary(real_mkstemps(template, suffix), template);
}
int mkostemps(char *template, int suffix, int flags) {
  REAL(mkostemps);
  return made_temporary(real_mkostemps(template, suffix, flags), template);
}

#endif
