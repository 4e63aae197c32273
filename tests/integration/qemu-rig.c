/* qemu-rig.c: a real QEMU for integration tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each QmpTestQemu owns one QEMU process and one temporary directory. The
 * process is only ever signalled through its GSubprocess (its own PID), and
 * the kernel kills it if the test program dies first, so an aborted test
 * leaves no QEMU behind.
 */

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "qemu-rig.h"

/* QEMU greets on its socket some 50 ms after exec; the rest is margin for a
 * loaded CI host. */
#define START_LIMIT_MS 10000
#define TERM_LIMIT_MS 5000

struct _QmpTestQemu
{
  char *dir;                    /* owned; removed by _free() */
  char *socket_path;            /* owned */
  char *address;                /* owned; "unix:" + socket_path */
  char *log_path;               /* owned; QEMU's stdout and stderr */
  GStrv argv;                   /* owned; to start it again */
  GSubprocess *process;         /* owned */
};

static char *
find_qemu (void)
{
  const char *override = g_getenv ("QMP_TEST_QEMU");

  if (override != NULL && *override != '\0')
    return g_find_program_in_path (override);
  return g_find_program_in_path ("qemu-system-x86_64");
}

/* Next to the QEMU in use, else in $PATH: a QEMU unpacked beside the
 * system's (scripts/install-qemu-backports) brings its own tools, of its
 * own release. */
static char *
find_sibling (const char *name)
{
  g_autofree char *qemu = find_qemu ();
  g_autofree char *dir = qemu ? g_path_get_dirname (qemu) : NULL;
  g_autofree char *sibling = dir ? g_build_filename (dir, name, NULL) : NULL;

  if (sibling != NULL && g_file_test (sibling, G_FILE_TEST_IS_EXECUTABLE))
    return g_steal_pointer (&sibling);
  return g_find_program_in_path (name);
}

static char *
find_storage_daemon (void)
{
  return find_sibling ("qemu-storage-daemon");
}

char *
qmp_test_qemu_find_tool (const char *name)
{
  char *path = find_sibling (name);

  return path ? path : g_strdup (name);
}

char *
qmp_test_qemu_get_version (char **package)
{
  g_autofree char *qemu = find_qemu ();
  g_auto(GStrv) env = g_get_environ ();
  g_autoptr(GRegex) regex = NULL;
  g_autoptr(GMatchInfo) match = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  const char *argv[] = { qemu, "--version", NULL };
  int status;

  g_assert_nonnull (qemu);
  /* QEMU is not ours to check: no sanitizer runtime for it. */
  env = g_environ_unsetenv (env, "LD_PRELOAD");
  g_assert_true (g_spawn_sync (NULL, (char **) argv, env, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                               &out, NULL, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("%s --version: %s", qemu, error->message);
  /* "QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)";
   * without a package text, no parentheses. */
  regex = g_regex_new ("^QEMU emulator version ([0-9]+\\.[0-9]+\\.[0-9]+)(?: \\((.*)\\))?$",
                       G_REGEX_MULTILINE, 0, &error);
  g_assert_no_error (error);
  if (!g_regex_match (regex, out, 0, &match))
    g_error ("%s --version: unexpected output: %s", qemu, out);
  /* A group that took no part in the match is fetched as "". */
  if (package != NULL)
    *package = g_match_info_fetch (match, 2);
  return g_match_info_fetch (match, 1);
}

gboolean
qmp_test_qemu_require (void)
{
  g_autofree char *qemu = find_qemu ();
  const char *override = g_getenv ("QMP_TEST_QEMU");

  if (qemu != NULL)
    return TRUE;
  /* Asking for a particular QEMU and not getting it is a mistake, not a
   * missing optional dependency. */
  if (override != NULL && *override != '\0')
    g_test_fail_printf ("QMP_TEST_QEMU=%s: no such program", override);
  else if (g_strcmp0 (g_getenv ("CI"), "true") == 0)
    g_test_fail_printf ("qemu-system-x86_64 is not installed, and CI must run the tests that need it");
  else
    g_test_skip ("qemu-system-x86_64 is not installed");
  return FALSE;
}

gboolean
qmp_test_storage_daemon_require (void)
{
  g_autofree char *daemon = NULL;

  if (!qmp_test_qemu_require ())
    return FALSE;
  daemon = find_storage_daemon ();
  if (daemon != NULL)
    return TRUE;
  if (g_strcmp0 (g_getenv ("CI"), "true") == 0)
    g_test_fail_printf ("qemu-storage-daemon is not installed, and CI must run the tests that need it");
  else
    g_test_skip ("qemu-storage-daemon is not installed");
  return FALSE;
}

/* Runs in the child between fork and exec, so only async-signal-safe calls.
 * The death signal follows the parent thread; if that thread is already
 * gone (getppid() changed), the signal would never come. */
static void
die_with_parent (gpointer user_data)
{
  pid_t parent = GPOINTER_TO_INT (user_data);

  if (prctl (PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid () != parent)
    _exit (127);
}

/* Whether QEMU's monitor greets a client on @path before @deadline. A
 * greeting, not a mere connect(): QEMU accepts on its socket before its
 * monitor is set up, and a client that comes and goes in that window may
 * leave the next one a closed connection. Once a probe was greeted, the
 * monitor is in place and the probe's departure is an ordinary disconnect. */
static gboolean
socket_greets (const char *path,
               gint64      deadline)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  gboolean greeted = FALSE;
  char buffer[4096];
  gsize length = 0;

  g_assert_cmpint (fd, >=, 0);
  g_strlcpy (addr.sun_path, path, sizeof addr.sun_path);
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0)
    while (!greeted && length < sizeof buffer)
      {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        gint64 left_ms = (deadline - g_get_monotonic_time ()) / 1000;
        ssize_t n;

        if (left_ms <= 0 || poll (&pfd, 1, (int) left_ms) <= 0)
          break;
        n = read (fd, buffer + length, sizeof buffer - length);
        if (n <= 0)
          break;
        length += (gsize) n;
        greeted = memchr (buffer, '\n', length) != NULL;
      }
  close (fd);
  return greeted;
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    while ((name = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *child = g_build_filename (path, name, NULL);

        if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
          remove_tree (child);
        else
          g_unlink (child);
      }
  g_rmdir (path);
}

static char *
read_log (QmpTestQemu *self)
{
  char *text = NULL;

  if (!g_file_get_contents (self->log_path, &text, NULL, NULL))
    return g_strdup ("(no output)");
  return text;
}

/* Spawns self->argv and waits until its monitor greets. */
static void
spawn (QmpTestQemu *self)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) error = NULL;
  gint64 deadline;

  g_assert_null (self->process);
  /* One file for both streams, appended to across restarts: two separate
   * opens would overwrite each other's output. */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, GINT_TO_POINTER (getpid ()), NULL);
  {
    int fd = g_open (self->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

    g_assert_cmpint (fd, >=, 0);
    g_subprocess_launcher_take_stdout_fd (launcher, fd);
  }
  self->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) self->argv, &error);
  g_assert_no_error (error);

  deadline = g_get_monotonic_time () + START_LIMIT_MS * 1000;
  while (!socket_greets (self->socket_path, deadline))
    {
      /* The identifier is cleared once GLib has reaped the child. */
      if (g_subprocess_get_identifier (self->process) == NULL)
        g_error ("%s exited at start: %s", self->argv[0], read_log (self));
      if (g_get_monotonic_time () > deadline)
        g_error ("%s did not greet on its QMP socket in %d ms: %s", self->argv[0], START_LIMIT_MS,
                 read_log (self));
      g_usleep (10 * 1000);
    }
}

static QmpTestQemu *
start (char               *program,
       const char * const *monitor_args,
       const char * const *extra_args)
{
  QmpTestQemu *self = g_new0 (QmpTestQemu, 1);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (program);
  self->dir = g_dir_make_tmp ("qmpthin-qemu-XXXXXX", &error);
  g_assert_no_error (error);
  self->socket_path = g_build_filename (self->dir, "qmp.sock", NULL);
  self->address = g_strconcat ("unix:", self->socket_path, NULL);
  self->log_path = g_build_filename (self->dir, "qemu.log", NULL);
  /* A long $TMPDIR would silently truncate the socket address. */
  g_assert_cmpuint (strlen (self->socket_path), <, G_SIZEOF_MEMBER (struct sockaddr_un, sun_path));

  g_ptr_array_add (argv, program);
  for (guint i = 0; monitor_args[i] != NULL; i++)
    {
      g_auto(GStrv) parts = g_strsplit (monitor_args[i], "@SOCKET@", -1);

      g_ptr_array_add (argv, g_strjoinv (self->socket_path, parts));
    }
  for (guint i = 0; extra_args != NULL && extra_args[i] != NULL; i++)
    {
      g_auto(GStrv) parts = g_strsplit (extra_args[i], "@DIR@", -1);

      g_ptr_array_add (argv, g_strjoinv (self->dir, parts));
    }
  g_ptr_array_add (argv, NULL);
  self->argv = (GStrv) g_ptr_array_steal (argv, NULL);

  spawn (self);
  return self;
}

QmpTestQemu *
qmp_test_qemu_start (const char * const *extra_args)
{
  /* "@SOCKET@" is replaced by the socket's path. */
  const char *monitor[] = {
    "-nodefaults", "-no-user-config", "-display", "none",
    "-chardev", "socket,id=qmp0,path=@SOCKET@,server=on,wait=off",
    "-mon", "chardev=qmp0,mode=control",
    NULL
  };

  return start (find_qemu (), monitor, extra_args);
}

QmpTestQemu *
qmp_test_storage_daemon_start (const char * const *extra_args)
{
  const char *monitor[] = {
    "--chardev", "socket,id=qmp0,path=@SOCKET@,server=on,wait=off",
    "--monitor", "chardev=qmp0",
    NULL
  };

  return start (find_storage_daemon (), monitor, extra_args);
}

/* To the process's own PID, while GLib has not reaped it. Directly: under
 * valgrind, g_subprocess_send_signal() does not always reach the child. */
static void
signal_process (QmpTestQemu *self,
                int          signal_number)
{
  const char *pid = g_subprocess_get_identifier (self->process);

  if (pid != NULL)
    kill ((pid_t) g_ascii_strtoll (pid, NULL, 10), signal_number);
}

void
qmp_test_qemu_send_signal (QmpTestQemu *self,
                           int          signal_number)
{
  g_assert_nonnull (self->process);
  g_assert_nonnull (g_subprocess_get_identifier (self->process));
  signal_process (self, signal_number);
}

void
qmp_test_qemu_kill (QmpTestQemu *self)
{
  g_assert_nonnull (self->process);
  signal_process (self, SIGKILL);
  g_subprocess_wait (self->process, NULL, NULL);
  g_clear_object (&self->process);
}

void
qmp_test_qemu_restart (QmpTestQemu *self)
{
  if (self->process != NULL)
    {
      /* Only once the previous one is gone. */
      g_subprocess_wait (self->process, NULL, NULL);
      g_clear_object (&self->process);
    }
  spawn (self);
}

const char *
qmp_test_qemu_get_address (QmpTestQemu *self)
{
  return self->address;
}

const char *
qmp_test_qemu_get_dir (QmpTestQemu *self)
{
  return self->dir;
}

typedef struct {
  gboolean done;
  gboolean exited;
} WaitState;

static void
wait_ready (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  WaitState *state = user_data;

  /* Fails only when cancelled. */
  state->exited = g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  state->done = TRUE;
}

static gboolean
wait_timed_out (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

gboolean
qmp_test_qemu_wait_exit (QmpTestQemu *self,
                         guint        timeout_ms)
{
  /* A private context: the caller's sources (a client's socket, say) must
   * not run behind its back while it waits. */
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GSource) timeout = g_timeout_source_new (timeout_ms);
  WaitState state = { FALSE, FALSE };

  g_main_context_push_thread_default (context);
  g_source_set_callback (timeout, wait_timed_out, cancellable, NULL);
  g_source_attach (timeout, context);
  g_subprocess_wait_async (self->process, cancellable, wait_ready, &state);
  while (!state.done)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (timeout);
  g_main_context_pop_thread_default (context);
  return state.exited;
}

void
qmp_test_qemu_free (QmpTestQemu *self)
{
  if (self->process != NULL)
    {
      if (g_subprocess_get_identifier (self->process) != NULL)
        {
          signal_process (self, SIGTERM);
          /* A test that stopped it (SIGSTOP) and failed before it let it
           * go on: the SIGTERM waits for this. */
          signal_process (self, SIGCONT);
          if (!qmp_test_qemu_wait_exit (self, TERM_LIMIT_MS))
            signal_process (self, SIGKILL);
        }
      /* After SIGKILL the wait is short and certain. */
      g_subprocess_wait (self->process, NULL, NULL);
      g_clear_object (&self->process);
    }
  remove_tree (self->dir);
  g_strfreev (self->argv);
  g_free (self->dir);
  g_free (self->socket_path);
  g_free (self->address);
  g_free (self->log_path);
  g_free (self);
}
