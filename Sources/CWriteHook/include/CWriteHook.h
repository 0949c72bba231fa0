#ifndef C_WRITE_HOOK_H
#define C_WRITE_HOOK_H

/// Set (to the log format's version) in a process the write hook is loaded into. The hook
/// notes, in the file LESSONS_WRITE_LOG names, every regular file the process opens for
/// writing, creates, renames or removes: see write_hook.c.
extern int lessons_write_hook_version;

#endif
