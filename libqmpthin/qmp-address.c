/* qmp-address.c: QMP addresses, parsed, opened and told apart
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One parser for the addresses qmp_client_new() takes (unix:PATH, a bare
 * /PATH, tcp:HOST:PORT), the connect() of a UNIX socket, what a failed
 * open means and whether trying again can help, and the identity of a
 * socket file. No client, no main loop: tests take it alone.
 */

#include <string.h>
#include <sys/stat.h>

#include <gio/gunixsocketaddress.h>

#include "qmp-address.h"

struct _QmpAddress
{
  char *text;                   /* owned: as given */
  char *path;                   /* owned, nullable: UNIX sockets only */
  GSocketConnectable *connectable;  /* owned */
};

void
_qmp_address_free (QmpAddress *address)
{
  if (address == NULL)
    return;
  g_free (address->text);
  g_free (address->path);
  g_clear_object (&address->connectable);
  g_free (address);
}

/* Parses @text: `unix:PATH`, `/PATH` or `tcp:HOST:PORT` (`tcp:[::1]:4444`
 * for IPv6). Fails with G_IO_ERROR_INVALID_ARGUMENT, which no retry can
 * cure. */
QmpAddress *
_qmp_address_parse (const char  *text,
                    GError     **error)
{
  g_autoptr(QmpAddress) address = g_new0 (QmpAddress, 1);
  const char *path = NULL;

  g_return_val_if_fail (text != NULL, NULL);

  address->text = g_strdup (text);
  if (g_str_has_prefix (text, "unix:"))
    path = text + strlen ("unix:");
  else if (text[0] == '/')
    path = text;

  if (path != NULL)
    {
      if (*path == '\0')
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "The QMP address “%s” has no socket path", text);
          return NULL;
        }
      address->path = g_strdup (path);
      address->connectable = G_SOCKET_CONNECTABLE (g_unix_socket_address_new (path));
      return g_steal_pointer (&address);
    }

  if (g_str_has_prefix (text, "tcp:"))
    {
      g_autoptr(GError) local_error = NULL;

      address->connectable = g_network_address_parse (text + strlen ("tcp:"), 0, &local_error);
      if (address->connectable == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "Invalid QMP address “%s”: %s", text, local_error->message);
          return NULL;
        }
      if (g_network_address_get_port (G_NETWORK_ADDRESS (address->connectable)) == 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "The QMP address “%s” has no port", text);
          return NULL;
        }
      return g_steal_pointer (&address);
    }

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "Invalid QMP address “%s”: use unix:PATH, /PATH or tcp:HOST:PORT", text);
  return NULL;
}

const char *
_qmp_address_get_text (QmpAddress *address)
{
  return address->text;
}

/* The socket path of a UNIX address; NULL for TCP. */
const char *
_qmp_address_get_path (QmpAddress *address)
{
  return address->path;
}

GSocketConnectable *
_qmp_address_get_connectable (QmpAddress *address)
{
  return address->connectable;
}

/* The connect() of a UNIX socket succeeds or fails at once, so it needs
 * none of GSocketClient's asynchronous machinery (a task, an address
 * enumerator, the proxy resolver, idle callbacks): that was a good part
 * of what connecting a fleet of clients cost. Returns NULL without an
 * error where the connect would complete later (not on Linux): the caller
 * then goes through GSocketClient. */
GIOStream *
_qmp_address_open_unix (QmpAddress  *address,
                        GError     **error)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (address->path != NULL, NULL);

  socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_DEFAULT, error);
  if (socket == NULL)
    return NULL;
  g_socket_set_blocking (socket, FALSE);
  if (!g_socket_connect (socket, G_SOCKET_ADDRESS (address->connectable), NULL, &local_error))
    {
      if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_PENDING))
        g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  return G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
}

/* Why opening @address failed with @error, in words that say what to do,
 * and whether trying again within the same connect can help: a full
 * backlog (a client is connected, one more waits) empties when they
 * leave; nothing listening may be QEMU between bind() and listen(), or
 * the socket of a QEMU that exited; a missing file, or one that is not a
 * socket, is not worth waiting for. Returns the error to report, or NULL
 * where the retry is worth it or @error says it well enough. */
GError *
_qmp_address_explain_failure (QmpAddress      *address,
                              const GError    *error,
                              QmpAddressRetry *retry)
{
  struct stat st;

  *retry = QMP_ADDRESS_FAILED;
  if (address->path == NULL)
    return NULL;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    {
      *retry = QMP_ADDRESS_RETRY;
      return NULL;
    }
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    return g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                        "There is no QMP socket at %s: is QEMU running?", address->path);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
    {
      if (stat (address->path, &st) == 0 && !S_ISSOCK (st.st_mode))
        return g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                            "%s is not a socket, so it is no QMP monitor", address->path);
      *retry = QMP_ADDRESS_RETRY_BRIEFLY;
      return g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED,
                          "Nothing is listening on %s: the QEMU that made it has probably exited",
                          address->path);
    }
  return NULL;
}

/* Reads the identity of the socket file; FALSE (and @identity unknown)
 * for TCP, or when the file cannot be read. */
gboolean
_qmp_address_read_identity (QmpAddress        *address,
                            QmpSocketIdentity *identity)
{
  struct stat st;

  memset (identity, 0, sizeof *identity);
  if (address->path == NULL || stat (address->path, &st) != 0)
    return FALSE;
  identity->known = TRUE;
  identity->dev = st.st_dev;
  identity->ino = st.st_ino;
  identity->ctime = st.st_ctim;
  return TRUE;
}

/* Whether @a and @b are the same socket file; two unknown identities are
 * the same as far as anyone can tell. */
gboolean
_qmp_socket_identity_equal (const QmpSocketIdentity *a,
                            const QmpSocketIdentity *b)
{
  if (!a->known || !b->known)
    return TRUE;
  return a->dev == b->dev && a->ino == b->ino &&
         a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}
