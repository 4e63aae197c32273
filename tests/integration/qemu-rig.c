/* qemu-rig.c: a real QEMU for integration tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "qemu-rig.h"

struct _QmpTestQemu
{
  char *dir;
  char *socket_path;
  char *address;
  GSubprocess *process;
};

static char *
find_qemu (void)
{
  const char *override = g_getenv ("QMP_TEST_QEMU");

  if (override != NULL && *override != '\0')
    return g_find_program_in_path (override);
  return g_find_program_in_path ("qemu-system-x86_64");
}

gboolean
qmp_test_qemu_require (void)
{
  g_autofree char *qemu = find_qemu ();

  if (qemu != NULL)
    return TRUE;
  if (g_strcmp0 (g_getenv ("CI"), "true") == 0)
    {
      g_test_message ("qemu-system-x86_64 is missing, and CI must run these tests");
      g_test_fail ();
    }
  else
    {
      g_test_skip ("qemu-system-x86_64 is not installed");
    }
  return FALSE;
}

/* QEMU must not outlive a test that aborts. */
static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static gboolean
socket_accepts (const char *path)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  gboolean ok;

  g_strlcpy (addr.sun_path, path, sizeof addr.sun_path);
  ok = connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0;
  close (fd);
  return ok;
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

QmpTestQemu *
qmp_test_qemu_start (const char * const *extra_args)
{
  QmpTestQemu *self = g_new0 (QmpTestQemu, 1);
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *log = NULL;
  gint64 deadline;

  self->dir = g_dir_make_tmp ("qmpthin-qemu-XXXXXX", &error);
  g_assert_no_error (error);
  self->socket_path = g_build_filename (self->dir, "qmp.sock", NULL);
  self->address = g_strconcat ("unix:", self->socket_path, NULL);
  log = g_build_filename (self->dir, "qemu.log", NULL);

  g_ptr_array_add (argv, find_qemu ());
  g_assert_nonnull (argv->pdata[0]);
  g_ptr_array_add (argv, g_strdup ("-nodefaults"));
  g_ptr_array_add (argv, g_strdup ("-no-user-config"));
  g_ptr_array_add (argv, g_strdup ("-display"));
  g_ptr_array_add (argv, g_strdup ("none"));
  g_ptr_array_add (argv, g_strdup ("-chardev"));
  g_ptr_array_add (argv, g_strdup_printf ("socket,id=qmp0,path=%s,server=on,wait=off", self->socket_path));
  g_ptr_array_add (argv, g_strdup ("-mon"));
  g_ptr_array_add (argv, g_strdup ("chardev=qmp0,mode=control"));
  for (guint i = 0; extra_args != NULL && extra_args[i] != NULL; i++)
    {
      g_auto(GStrv) parts = g_strsplit (extra_args[i], "@DIR@", -1);

      g_ptr_array_add (argv, g_strjoinv (self->dir, parts));
    }
  g_ptr_array_add (argv, NULL);

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  g_subprocess_launcher_set_stdout_file_path (launcher, log);
  g_subprocess_launcher_set_stderr_file_path (launcher, log);
  self->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);

  /* The socket appears some 50 ms after exec. */
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!socket_accepts (self->socket_path))
    {
      if (g_get_monotonic_time () > deadline || g_subprocess_get_identifier (self->process) == NULL)
        {
          g_autofree char *output = NULL;

          g_file_get_contents (log, &output, NULL, NULL);
          g_error ("QEMU did not open its QMP socket: %s", output ? output : "(no output)");
        }
      g_usleep (10 * 1000);
    }
  return self;
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

gboolean
qmp_test_qemu_wait_exit (QmpTestQemu *self,
                         guint        timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      /* GSubprocess reaps the child in GLib's worker thread. */
      if (g_subprocess_get_identifier (self->process) == NULL)
        return TRUE;
      g_usleep (10 * 1000);
    }
  return FALSE;
}

void
qmp_test_qemu_free (QmpTestQemu *self)
{
  if (self->process != NULL)
    {
      if (g_subprocess_get_identifier (self->process) != NULL)
        {
          g_subprocess_send_signal (self->process, SIGTERM);
          if (!qmp_test_qemu_wait_exit (self, 5000))
            g_subprocess_force_exit (self->process);
        }
      g_subprocess_wait (self->process, NULL, NULL);
      g_clear_object (&self->process);
    }
  remove_tree (self->dir);
  g_free (self->dir);
  g_free (self->socket_path);
  g_free (self->address);
  g_free (self);
}
