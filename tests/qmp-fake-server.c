/* qmp-fake-server.c: a scripted QMP server for tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One thread serves one connection at a time on a UNIX socket in a
 * temporary directory, like a QEMU monitor (a second client waits in the
 * listen backlog without a greeting). Requests are parsed, answered from
 * a table of replies (or held for the test), and handed to the test in
 * order. The test queues output (raw bytes, replies, events, a close)
 * that the thread writes in order.
 */

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <glib-unix.h>

#include "qmp-fake-server.h"

typedef enum {
  OUT_BYTES,
  OUT_CLOSE,
  OUT_FLUSH,
  OUT_RESTART,
  OUT_QUIT,
} OutKind;

typedef struct {
  OutKind kind;
  GBytes *bytes;
} Output;

struct _QmpFakeServer
{
  char *dir;
  char *path;
  char *address;
  int listen_fd;
  int wake[2];
  GThread *thread;

  GMutex lock;                  /* guards everything below */
  GCond cond;
  char *greeting;
  GHashTable *replies;          /* command -> template (NULL value: hold) */
  GQueue outputs;               /* Output*, for the server thread */
  GQueue requests;              /* JsonObject*, for the test */
  guint n_connections;
  guint flushes_requested;
  guint flushes_done;
  gboolean negotiated;
};

static void
output_free (Output *output)
{
  g_clear_pointer (&output->bytes, g_bytes_unref);
  g_free (output);
}

static void
push_output (QmpFakeServer *self,
             OutKind        kind,
             GBytes        *bytes)
{
  Output *output = g_new0 (Output, 1);
  char c = 'w';

  output->kind = kind;
  output->bytes = bytes;
  g_mutex_lock (&self->lock);
  g_queue_push_tail (&self->outputs, output);
  g_mutex_unlock (&self->lock);
  g_assert_cmpint (write (self->wake[1], &c, 1), ==, 1);
}

static void
write_all (int         fd,
           const char *data,
           gsize       length)
{
  while (length > 0)
    {
      ssize_t n = write (fd, data, length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;   /* the client went away: like QEMU, drop it */
      data += n;
      length -= n;
    }
}

static char *
reply_for (QmpFakeServer *self,
           JsonObject    *request,
           gboolean      *held)
{
  const char *command = json_object_get_string_member_with_default (request, "execute", "");
  JsonNode *id = json_object_get_member (request, "id");
  g_autoptr(JsonNode) reply = NULL;
  g_autofree char *id_text = id ? json_to_string (id, FALSE) : NULL;
  gpointer template = NULL;
  gboolean known;

  g_mutex_lock (&self->lock);
  known = g_hash_table_lookup_extended (self->replies, command, NULL, &template);
  if (known && template != NULL)
    reply = json_from_string (template, NULL);
  g_mutex_unlock (&self->lock);

  *held = known && template == NULL;
  if (*held)
    return NULL;

  if (reply == NULL)
    {
      g_autofree char *desc = NULL;

      if (g_str_equal (command, "qmp_capabilities"))
        {
          if (!self->negotiated)
            {
              self->negotiated = TRUE;
              return g_strdup_printf ("{\"return\": {}%s%s}\r\n",
                                      id_text ? ", \"id\": " : "", id_text ? id_text : "");
            }
          desc = g_strdup ("Capabilities negotiation is already complete, command ignored");
        }
      else
        {
          desc = g_strdup_printf ("The command %s has not been found", command);
        }
      return g_strdup_printf ("{%s%s%s\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"%s\"}}\r\n",
                              id_text ? "\"id\": " : "", id_text ? id_text : "",
                              id_text ? ", " : "", desc);
    }

  if (id != NULL && JSON_NODE_HOLDS_OBJECT (reply))
    json_object_set_member (json_node_get_object (reply), "id", json_node_copy (id));
  {
    g_autofree char *text = json_to_string (reply, FALSE);
    return g_strconcat (text, "\r\n", NULL);
  }
}

static void
handle_line (QmpFakeServer *self,
             int            fd,
             const char    *line)
{
  g_autoptr(JsonNode) node = json_from_string (line, NULL);
  g_autofree char *reply = NULL;
  JsonObject *request;
  gboolean held;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return;
  request = json_node_get_object (node);
  reply = reply_for (self, request, &held);

  g_mutex_lock (&self->lock);
  g_queue_push_tail (&self->requests, json_object_ref (request));
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);

  if (reply != NULL)
    write_all (fd, reply, strlen (reply));
}

static int
listen_on (const char *path)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpuint (strlen (path), <, sizeof addr.sun_path);
  strcpy (addr.sun_path, path);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (listen (fd, 8), ==, 0);
  return fd;
}

/* Returns FALSE to stop the thread. */
static gboolean
run_outputs (QmpFakeServer *self,
             int           *client_fd)
{
  Output *output;

  for (;;)
    {
      g_mutex_lock (&self->lock);
      output = g_queue_pop_head (&self->outputs);
      g_mutex_unlock (&self->lock);
      if (output == NULL)
        return TRUE;

      switch (output->kind)
        {
        case OUT_BYTES:
          if (*client_fd >= 0)
            {
              gsize length;
              const char *data = g_bytes_get_data (output->bytes, &length);

              write_all (*client_fd, data, length);
            }
          break;
        case OUT_CLOSE:
          if (*client_fd >= 0)
            {
              close (*client_fd);
              *client_fd = -1;
            }
          break;
        case OUT_RESTART:
          if (*client_fd >= 0)
            {
              close (*client_fd);
              *client_fd = -1;
            }
          close (self->listen_fd);
          g_unlink (self->path);
          self->listen_fd = listen_on (self->path);
          break;
        case OUT_FLUSH:
          g_mutex_lock (&self->lock);
          self->flushes_done++;
          g_cond_broadcast (&self->cond);
          g_mutex_unlock (&self->lock);
          break;
        case OUT_QUIT:
          output_free (output);
          return FALSE;
        default:
          g_assert_not_reached ();
        }
      output_free (output);
    }
}

static gpointer
server_thread (gpointer data)
{
  QmpFakeServer *self = data;
  int client_fd = -1;
  g_autoptr(GString) pending = g_string_new (NULL);
  char buffer[65536];

  for (;;)
    {
      struct pollfd fds[2] = {
        { self->wake[0], POLLIN, 0 },
        { client_fd >= 0 ? client_fd : self->listen_fd, POLLIN, 0 },
      };

      if (poll (fds, 2, -1) < 0)
        {
          g_assert_cmpint (errno, ==, EINTR);
          continue;
        }

      if (fds[0].revents & POLLIN)
        {
          char c[64];

          if (read (self->wake[0], c, sizeof c) < 0 && errno != EAGAIN)
            g_error ("fake server: %s", g_strerror (errno));
          if (!run_outputs (self, &client_fd))
            break;
          continue;   /* the client may have been closed */
        }

      if (client_fd < 0 && (fds[1].revents & POLLIN))
        {
          client_fd = accept (self->listen_fd, NULL, NULL);
          if (client_fd < 0)
            continue;
          g_string_truncate (pending, 0);
          g_mutex_lock (&self->lock);
          self->n_connections++;
          self->negotiated = FALSE;
          if (self->greeting != NULL)
            write_all (client_fd, self->greeting, strlen (self->greeting));
          g_cond_broadcast (&self->cond);
          g_mutex_unlock (&self->lock);
          continue;
        }

      if (client_fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
        {
          ssize_t n = read (client_fd, buffer, sizeof buffer);
          char *nl;

          if (n <= 0)
            {
              close (client_fd);
              client_fd = -1;
              continue;
            }
          g_string_append_len (pending, buffer, n);
          while ((nl = memchr (pending->str, '\n', pending->len)) != NULL)
            {
              g_autofree char *line = g_strndup (pending->str, nl - pending->str);

              g_string_erase (pending, 0, nl - pending->str + 1);
              handle_line (self, client_fd, line);
            }
        }
    }

  if (client_fd >= 0)
    close (client_fd);
  return NULL;
}

QmpFakeServer *
qmp_fake_server_new (void)
{
  QmpFakeServer *self = g_new0 (QmpFakeServer, 1);
  g_autoptr(GError) error = NULL;

  self->dir = g_dir_make_tmp ("qmpthin-fake-XXXXXX", &error);
  g_assert_no_error (error);
  self->path = g_build_filename (self->dir, "qmp.sock", NULL);
  self->address = g_strconcat ("unix:", self->path, NULL);
  self->listen_fd = listen_on (self->path);
  g_assert_true (g_unix_open_pipe (self->wake, FD_CLOEXEC, &error));
  g_assert_true (g_unix_set_fd_nonblocking (self->wake[0], TRUE, &error));

  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->greeting = g_strdup (QMP_FAKE_GREETING);
  self->replies = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_queue_init (&self->outputs);
  g_queue_init (&self->requests);
  self->thread = g_thread_new ("fake-qmp", server_thread, self);
  return self;
}

void
qmp_fake_server_free (QmpFakeServer *self)
{
  push_output (self, OUT_QUIT, NULL);
  g_thread_join (self->thread);
  close (self->listen_fd);
  close (self->wake[0]);
  close (self->wake[1]);
  g_unlink (self->path);
  g_rmdir (self->dir);
  g_queue_clear_full (&self->outputs, (GDestroyNotify) output_free);
  g_queue_clear_full (&self->requests, (GDestroyNotify) json_object_unref);
  g_hash_table_unref (self->replies);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  g_free (self->greeting);
  g_free (self->address);
  g_free (self->path);
  g_free (self->dir);
  g_free (self);
}

const char *
qmp_fake_server_get_address (QmpFakeServer *self)
{
  return self->address;
}

const char *
qmp_fake_server_get_path (QmpFakeServer *self)
{
  return self->path;
}

void
qmp_fake_server_set_greeting (QmpFakeServer *self,
                              const char    *raw)
{
  g_mutex_lock (&self->lock);
  g_free (self->greeting);
  self->greeting = g_strdup (raw);
  g_mutex_unlock (&self->lock);
}

void
qmp_fake_server_set_reply (QmpFakeServer *self,
                           const char    *command,
                           const char    *reply_template)
{
  g_mutex_lock (&self->lock);
  g_hash_table_insert (self->replies, g_strdup (command), g_strdup (reply_template));
  g_mutex_unlock (&self->lock);
}

void
qmp_fake_server_hold (QmpFakeServer *self,
                      const char    *command)
{
  g_mutex_lock (&self->lock);
  g_hash_table_insert (self->replies, g_strdup (command), NULL);
  g_mutex_unlock (&self->lock);
}

JsonObject *
qmp_fake_server_pop_request (QmpFakeServer *self,
                             guint          timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  JsonObject *request;

  g_mutex_lock (&self->lock);
  while ((request = g_queue_pop_head (&self->requests)) == NULL)
    if (!g_cond_wait_until (&self->cond, &self->lock, deadline))
      break;
  g_mutex_unlock (&self->lock);
  return request;
}

guint
qmp_fake_server_get_n_connections (QmpFakeServer *self)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = self->n_connections;
  g_mutex_unlock (&self->lock);
  return n;
}

void
qmp_fake_server_send_bytes (QmpFakeServer *self,
                            const char    *data,
                            gsize          length)
{
  push_output (self, OUT_BYTES, g_bytes_new (data, length));
}

void
qmp_fake_server_send (QmpFakeServer *self,
                      const char    *raw)
{
  qmp_fake_server_send_bytes (self, raw, strlen (raw));
}

void
qmp_fake_server_reply (QmpFakeServer *self,
                       JsonObject    *request,
                       const char    *return_json)
{
  g_autofree char *id = json_to_string (json_object_get_member (request, "id"), FALSE);
  g_autofree char *line = g_strdup_printf ("{\"return\": %s, \"id\": %s}\r\n", return_json, id);

  qmp_fake_server_send (self, line);
}

void
qmp_fake_server_send_event (QmpFakeServer *self,
                            const char    *name,
                            const char    *data_json)
{
  gint64 now = g_get_real_time ();
  g_autofree char *line =
    g_strdup_printf ("{\"timestamp\": {\"seconds\": %" G_GINT64_FORMAT ", \"microseconds\": %"
                     G_GINT64_FORMAT "}, \"event\": \"%s\"%s%s}\r\n",
                     now / G_USEC_PER_SEC, now % G_USEC_PER_SEC, name,
                     data_json ? ", \"data\": " : "", data_json ? data_json : "");

  qmp_fake_server_send (self, line);
}

void
qmp_fake_server_close_client (QmpFakeServer *self)
{
  push_output (self, OUT_CLOSE, NULL);
}

void
qmp_fake_server_restart (QmpFakeServer *self)
{
  push_output (self, OUT_RESTART, NULL);
}

void
qmp_fake_server_flush (QmpFakeServer *self)
{
  guint mine;

  g_mutex_lock (&self->lock);
  mine = ++self->flushes_requested;
  g_mutex_unlock (&self->lock);
  push_output (self, OUT_FLUSH, NULL);
  g_mutex_lock (&self->lock);
  /* Flushes complete in order, so the count tells when ours did. */
  while (self->flushes_done < mine)
    g_cond_wait (&self->cond, &self->lock);
  g_mutex_unlock (&self->lock);
}
