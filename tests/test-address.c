/* test-address.c: QMP addresses parsed, opened and told apart, alone
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>

#include "qmp-address.h"

static void
test_parse (void)
{
  struct {
    const char *text;
    const char *path;           /* NULL: TCP */
    const char *host;
    guint16 port;
  } cases[] = {
    { "unix:/run/vm1/qmp.sock", "/run/vm1/qmp.sock", NULL, 0 },
    { "/run/vm1/qmp.sock", "/run/vm1/qmp.sock", NULL, 0 },
    { "unix:relative.sock", "relative.sock", NULL, 0 },
    { "tcp:127.0.0.1:4444", NULL, "127.0.0.1", 4444 },
    { "tcp:localhost:1", NULL, "localhost", 1 },
    { "tcp:[::1]:4444", NULL, "::1", 4444 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(QmpAddress) address = _qmp_address_parse (cases[i].text, &error);
      GSocketConnectable *connectable;

      g_assert_no_error (error);
      g_assert_cmpstr (_qmp_address_get_text (address), ==, cases[i].text);
      g_assert_cmpstr (_qmp_address_get_path (address), ==, cases[i].path);
      connectable = _qmp_address_get_connectable (address);
      if (cases[i].path != NULL)
        {
          g_assert_true (G_IS_UNIX_SOCKET_ADDRESS (connectable));
          g_assert_cmpstr (g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (connectable)), ==,
                           cases[i].path);
        }
      else
        {
          g_assert_true (G_IS_NETWORK_ADDRESS (connectable));
          g_assert_cmpstr (g_network_address_get_hostname (G_NETWORK_ADDRESS (connectable)), ==, cases[i].host);
          g_assert_cmpuint (g_network_address_get_port (G_NETWORK_ADDRESS (connectable)), ==, cases[i].port);
        }
    }
}

/* Whatever no retry can cure: G_IO_ERROR_INVALID_ARGUMENT, naming the
 * address. */
static void
test_parse_invalid (void)
{
  const char *invalid[] = {
    "", "unix:", "tcp:", "tcp:localhost", "tcp:localhost:0", "tcp:[::1]", "ftp://host",
    "relative/qmp.sock", "UNIX:/run/qmp.sock", "tcp:host:notaport",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(QmpAddress) address = _qmp_address_parse (invalid[i], &error);

      g_assert_null (address);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_nonnull (strstr (error->message, invalid[i]));
    }
}

typedef struct {
  char *dir;
  char *path;                   /* DIR/qmp.sock, made by each test */
  QmpAddress *address;
} Fixture;

static void
setup (Fixture       *f,
       gconstpointer  data)
{
  g_autofree char *text = NULL;

  f->dir = g_dir_make_tmp ("qmpthin-address-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
  f->path = g_build_filename (f->dir, "qmp.sock", NULL);
  text = g_strconcat ("unix:", f->path, NULL);
  f->address = _qmp_address_parse (text, NULL);
  g_assert_nonnull (f->address);
}

static void
teardown (Fixture       *f,
          gconstpointer  data)
{
  g_unlink (f->path);
  g_rmdir (f->dir);
  g_free (f->path);
  g_free (f->dir);
  _qmp_address_free (f->address);
}

/* A socket bound at the fixture's path; listening or not. */
static GSocket *
make_socket (Fixture  *f,
             gboolean  listening)
{
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (f->path);
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL);

  g_assert_nonnull (socket);
  g_assert_true (g_socket_bind (socket, address, TRUE, NULL));
  if (listening)
    g_assert_true (g_socket_listen (socket, NULL));
  return socket;
}

static void
assert_explained (Fixture         *f,
                  GIOErrorEnum     code,
                  QmpAddressRetry  expected_retry,
                  int              expected_code,
                  const char      *expected_text)
{
  g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, code, "from connect()");
  g_autoptr(GError) explained = NULL;
  QmpAddressRetry retry = 12345;

  explained = _qmp_address_explain_failure (f->address, error, &retry);
  g_assert_cmpint (retry, ==, expected_retry);
  if (expected_code < 0)
    {
      g_assert_null (explained);
      return;
    }
  g_assert_error (explained, G_IO_ERROR, expected_code);
  g_assert_nonnull (strstr (explained->message, expected_text));
  g_assert_nonnull (strstr (explained->message, f->path));
}

/* What a failed open means, and whether to try again, from the error and
 * what is at the path: no sockets needed but the file itself. */
static void
test_explain (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GSocket) socket = NULL;

  /* Nothing there: QEMU is not running. Not worth waiting for. */
  assert_explained (f, G_IO_ERROR_NOT_FOUND, QMP_ADDRESS_FAILED, G_IO_ERROR_NOT_FOUND, "is QEMU running?");
  /* A full backlog empties: tried until the timeout, nothing to say. */
  assert_explained (f, G_IO_ERROR_WOULD_BLOCK, QMP_ADDRESS_RETRY, -1, NULL);
  /* Refused by a socket file nothing listens on: briefly. */
  socket = make_socket (f, FALSE);
  assert_explained (f, G_IO_ERROR_CONNECTION_REFUSED, QMP_ADDRESS_RETRY_BRIEFLY,
                    G_IO_ERROR_CONNECTION_REFUSED, "Nothing is listening");
  g_socket_close (socket, NULL);
  g_unlink (f->path);
  /* Refused by a file that is not a socket: never a monitor. */
  g_assert_true (g_file_set_contents (f->path, "", 0, NULL));
  assert_explained (f, G_IO_ERROR_CONNECTION_REFUSED, QMP_ADDRESS_FAILED,
                    G_IO_ERROR_NOT_SUPPORTED, "is not a socket");
  /* Anything else says it well enough. */
  assert_explained (f, G_IO_ERROR_PERMISSION_DENIED, QMP_ADDRESS_FAILED, -1, NULL);

  /* TCP: nothing to add, nothing to retry here. */
  {
    g_autoptr(QmpAddress) tcp = _qmp_address_parse ("tcp:127.0.0.1:4444", NULL);
    g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED, "refused");
    g_autoptr(GError) explained = NULL;
    QmpAddressRetry retry;

    explained = _qmp_address_explain_failure (tcp, error, &retry);
    g_assert_null (explained);
    g_assert_cmpint (retry, ==, QMP_ADDRESS_FAILED);
  }
}

/* connect() to what is at the path, with the errors the explanation
 * above takes. */
static void
test_open (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOStream) stream = NULL;
  g_autoptr(GSocket) socket = NULL;

  stream = _qmp_address_open_unix (f->address, &error);
  g_assert_null (stream);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);

  socket = make_socket (f, FALSE);
  stream = _qmp_address_open_unix (f->address, &error);
  g_assert_null (stream);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_clear_error (&error);
  g_socket_close (socket, NULL);
  g_clear_object (&socket);
  g_unlink (f->path);

  socket = make_socket (f, TRUE);
  stream = _qmp_address_open_unix (f->address, &error);
  g_assert_no_error (error);
  g_assert_true (G_IS_SOCKET_CONNECTION (stream));
  g_assert_false (g_socket_get_blocking (g_socket_connection_get_socket (G_SOCKET_CONNECTION (stream))));
}

/* A socket file made anew (a restarted QEMU) is another one, even when
 * the kernel gives it the same inode. */
static void
test_identity (Fixture       *f,
               gconstpointer  data)
{
  QmpSocketIdentity first, again, unknown = { 0, }, renewed;
  g_autoptr(GSocket) socket = NULL;

  g_assert_false (_qmp_address_read_identity (f->address, &first));
  g_assert_false (first.known);

  socket = make_socket (f, TRUE);
  g_assert_true (_qmp_address_read_identity (f->address, &first));
  g_assert_true (_qmp_address_read_identity (f->address, &again));
  g_assert_true (_qmp_socket_identity_equal (&first, &again));
  /* Nothing known: nothing to tell apart. */
  g_assert_true (_qmp_socket_identity_equal (&first, &unknown));

  g_socket_close (socket, NULL);
  g_clear_object (&socket);
  g_unlink (f->path);
  /* The change time has a clock tick's precision: let one pass. */
  g_usleep (20 * 1000);
  socket = make_socket (f, TRUE);
  g_assert_true (_qmp_address_read_identity (f->address, &renewed));
  g_assert_false (_qmp_socket_identity_equal (&first, &renewed));

  {
    g_autoptr(QmpAddress) tcp = _qmp_address_parse ("tcp:127.0.0.1:4444", NULL);

    g_assert_false (_qmp_address_read_identity (tcp, &again));
  }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/qmp/address/parse", test_parse);
  g_test_add_func ("/qmp/address/parse-invalid", test_parse_invalid);
  g_test_add ("/qmp/address/explain", Fixture, NULL, setup, test_explain, teardown);
  g_test_add ("/qmp/address/open", Fixture, NULL, setup, test_open, teardown);
  g_test_add ("/qmp/address/identity", Fixture, NULL, setup, test_identity, teardown);

  return g_test_run ();
}
