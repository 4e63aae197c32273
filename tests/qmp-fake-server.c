/* qmp-fake-server.c: a scripted QMP server for tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The server runs in a thread of its own, with a GMainContext of its own,
 * so that it answers while the test's thread is blocked in a _sync call
 * of the client. It serves one connection at a time, like a QEMU monitor.
 *
 * Everything the server writes goes through one queue, in order: output
 * the test asks for (raw bytes, events, replies, a close) and the replies
 * to requests. Only the server thread takes from the queue, so the order
 * on the wire is the order of queueing, and fault injection (close after
 * N bytes, delivery in small pieces) applies to all of it alike. The
 * requests go the other way, parsed, to a queue the test reads.
 */

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#ifdef __linux__
#include <linux/sockios.h>
#endif

#include <glib/gstdio.h>

#include "qmp-fake-server.h"

/* How long qmp_fake_server_flush() waits before failing the test. */
#define FLUSH_LIMIT_MS 10000

/* How often a paced writer looks whether the client has read its piece. */
#define PACING_INTERVAL_MS 1

typedef enum {
  OUT_BYTES,
  OUT_CLOSE,
  OUT_CLOSE_AFTER,
  OUT_CHUNK_SIZE,
  OUT_RESTART,
  OUT_READING,
} OutKind;

/* One entry of QmpFakeServer.outputs. */
typedef struct {
  OutKind kind;
  GBytes *bytes;                /* OUT_BYTES */
  gsize n;                      /* OUT_CLOSE_AFTER, OUT_CHUNK_SIZE, OUT_READING */
} Output;

typedef enum {
  HANDLER_TEMPLATE,
  HANDLER_RAW,
  HANDLER_HOLD,
} HandlerKind;

/* How to answer one command. Owned by QmpFakeServer.handlers. */
typedef struct {
  HandlerKind kind;
  char *text;                   /* the template, whitespace stripped */
  gboolean has_id;              /* the template brings its own id */
  gboolean is_error;            /* {"error": …}: QEMU puts the id first */
  gboolean succeeds;            /* {"return": …} */
} Handler;

struct _QmpFakeServer
{
  /* Set at construction, then constant. */
  char *dir;                    /* owned, nullable (TCP) */
  char *path;                   /* owned, nullable (TCP) */
  char *address;                /* owned */
  GSocketAddress *bind_address; /* owned: where to listen again on restart */
  GMainContext *context;        /* owned: the server thread's */
  GMainLoop *loop;              /* owned */
  GThread *thread;              /* owned */

  /* Server thread only (and the constructor and free, before and after
   * the thread runs). */
  GSocket *listener;            /* owned */
  GSource *accept_source;       /* owned, nullable: only while no client */
  GSocket *client;              /* owned, nullable */
  GSource *read_source;         /* owned, nullable */
  GSource *wait_source;         /* owned, nullable: writability or pacing */
  GString *inbuf;               /* owned: a partial line */
  gsize head_offset;            /* bytes of the head output already written */
  gsize chunk_size;             /* 0: write whole pieces */
  gssize cut_budget;            /* bytes until a close, -1 for none */
  gboolean negotiated;
  gboolean not_reading;         /* qmp_fake_server_set_reading (FALSE) */
  gboolean quitting;

  GMutex lock;                  /* guards everything below */
  GCond cond;                   /* broadcast on every change below */
  char *greeting;               /* owned, nullable */
  GHashTable *handlers;         /* owned: command -> Handler* */
  GQueue outputs;               /* Output*, owned; the server thread pops */
  guint64 n_pushed;             /* outputs ever queued */
  guint64 n_done;               /* outputs ever completed */
  gboolean pump_scheduled;
  GQueue requests;              /* JsonObject*, owned, for the test */
  GPtrArray *lines;             /* char*, owned: every line received */
  guint n_requests;
  guint n_connections;
  guint n_closed;
  GMainContext *waiter;         /* unowned, nullable: woken on changes */
};

static void watch_listener (QmpFakeServer *self);
static void pump (QmpFakeServer *self);

/* ------------------------------------------------------------------------ */
/* Helpers */

static void
output_free (Output *output)
{
  g_clear_pointer (&output->bytes, g_bytes_unref);
  g_free (output);
}

static void
handler_free (Handler *handler)
{
  g_free (handler->text);
  g_free (handler);
}

static void
clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

/* Called with the lock held after any change a waiter may wait for. */
static void
notify_locked (QmpFakeServer *self)
{
  g_cond_broadcast (&self->cond);
  if (self->waiter != NULL)
    g_main_context_wakeup (self->waiter);
}

/* @text as a JSON string, quoted and escaped. */
static char *
json_quote (const char *text)
{
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_VALUE);

  json_node_set_string (node, text);
  return json_to_string (node, FALSE);
}

/* Replies formatted as QEMU 7.2 formats them. */
static char *
format_return (const char *id,
               const char *return_json)
{
  if (id == NULL)
    return g_strdup_printf ("{\"return\": %s}\r\n", return_json);
  return g_strdup_printf ("{\"return\": %s, \"id\": %s}\r\n", return_json, id);
}

static char *
format_error (const char *id,
              const char *error_class,
              const char *desc)
{
  g_autofree char *quoted_class = json_quote (error_class);
  g_autofree char *quoted_desc = json_quote (desc);

  if (id == NULL)
    return g_strdup_printf ("{\"error\": {\"class\": %s, \"desc\": %s}}\r\n",
                            quoted_class, quoted_desc);
  return g_strdup_printf ("{\"id\": %s, \"error\": {\"class\": %s, \"desc\": %s}}\r\n",
                          id, quoted_class, quoted_desc);
}

/* The template as written, with the id put where QEMU puts it. */
static char *
format_template (const Handler *handler,
                 const char    *id)
{
  gsize length = strlen (handler->text);
  g_autofree char *members = NULL;

  if (id == NULL || handler->has_id)
    return g_strconcat (handler->text, "\r\n", NULL);

  /* The template is an object: drop its braces, keep its members. */
  members = g_strstrip (g_strndup (handler->text + 1, length - 2));
  if (*members == '\0')
    return g_strdup_printf ("{\"id\": %s}\r\n", id);
  if (handler->is_error)
    return g_strdup_printf ("{\"id\": %s, %s}\r\n", id, members);
  return g_strdup_printf ("{%s, \"id\": %s}\r\n", members, id);
}

static char *
format_raw (const Handler *handler,
            const char    *id)
{
  g_auto(GStrv) parts = g_strsplit (handler->text, QMP_FAKE_ID, -1);

  return g_strjoinv (id != NULL ? id : "null", parts);
}

/* ------------------------------------------------------------------------ */
/* Output queue */

static gboolean
on_pump_idle (gpointer user_data)
{
  QmpFakeServer *self = user_data;

  g_mutex_lock (&self->lock);
  self->pump_scheduled = FALSE;
  g_mutex_unlock (&self->lock);
  pump (self);
  return G_SOURCE_REMOVE;
}

/* Any thread: queues @output (transfer full) for the server thread. */
static void
push_output (QmpFakeServer *self,
             Output        *output)
{
  gboolean schedule;

  g_mutex_lock (&self->lock);
  g_queue_push_tail (&self->outputs, output);
  self->n_pushed++;
  schedule = !self->pump_scheduled;
  self->pump_scheduled = TRUE;
  g_mutex_unlock (&self->lock);

  if (schedule)
    {
      GSource *source = g_idle_source_new ();

      g_source_set_priority (source, G_PRIORITY_DEFAULT);
      g_source_set_callback (source, on_pump_idle, self, NULL);
      g_source_set_static_name (source, "[fake-qmp] pump");
      g_source_attach (source, self->context);
      g_source_unref (source);
    }
}

static void
push_simple (QmpFakeServer *self,
             OutKind        kind,
             gsize          n)
{
  Output *output = g_new0 (Output, 1);

  output->kind = kind;
  output->n = n;
  push_output (self, output);
}

static void
push_bytes (QmpFakeServer *self,
            const char    *data,
            gsize          length)
{
  Output *output = g_new0 (Output, 1);

  output->kind = OUT_BYTES;
  output->bytes = g_bytes_new (data, length);
  push_output (self, output);
}

static void
push_text (QmpFakeServer *self,
           const char    *text)
{
  push_bytes (self, text, strlen (text));
}

/* ------------------------------------------------------------------------ */
/* The server thread: connections */

static void
drop_client (QmpFakeServer *self)
{
  if (self->client == NULL)
    return;

  clear_source (&self->read_source);
  clear_source (&self->wait_source);
  g_socket_close (self->client, NULL);
  g_clear_object (&self->client);
  g_string_truncate (self->inbuf, 0);

  g_mutex_lock (&self->lock);
  self->n_closed++;
  notify_locked (self);
  g_mutex_unlock (&self->lock);

  /* The next client in the backlog may come in now. */
  if (!self->quitting)
    watch_listener (self);
}

static GSocket *
listen_on (GSocketAddress  *address,
           GSocketAddress **bound)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = g_socket_new (g_socket_address_get_family (address),
                                            G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_DEFAULT, &error);

  g_assert_no_error (error);
  g_socket_set_blocking (socket, FALSE);
  g_socket_bind (socket, address, TRUE, &error);
  g_assert_no_error (error);
  g_socket_listen (socket, &error);
  g_assert_no_error (error);
  if (bound != NULL)
    {
      *bound = g_socket_get_local_address (socket, &error);
      g_assert_no_error (error);
    }
  return g_steal_pointer (&socket);
}

static void
relisten (QmpFakeServer *self)
{
  clear_source (&self->accept_source);
  g_socket_close (self->listener, NULL);
  g_clear_object (&self->listener);
  /* A restarted QEMU creates its socket file anew. */
  if (self->path != NULL)
    g_unlink (self->path);
  self->listener = listen_on (self->bind_address, NULL);
  watch_listener (self);
}

/* Requests: answered from the handlers or like QEMU, then handed over. */
static char *
answer (QmpFakeServer *self,
        JsonObject    *request)
{
  JsonNode *id_node = json_object_get_member (request, "id");
  JsonNode *execute = json_object_get_member (request, "execute");
  g_autofree char *id = id_node != NULL ? json_to_string (id_node, FALSE) : NULL;
  const char *command;
  Handler *found;
  Handler handler = { 0, };
  g_autofree char *text = NULL;

  if (execute == NULL || !JSON_NODE_HOLDS_VALUE (execute) ||
      json_node_get_value_type (execute) != G_TYPE_STRING)
    return format_error (id, "GenericError", "QMP input lacks member 'execute'");
  command = json_node_get_string (execute);

  g_mutex_lock (&self->lock);
  found = g_hash_table_lookup (self->handlers, command);
  if (found != NULL)
    {
      handler = *found;
      handler.text = text = g_strdup (found->text);
    }
  g_mutex_unlock (&self->lock);

  if (found != NULL)
    {
      switch (handler.kind)
        {
        case HANDLER_HOLD:
          return NULL;
        case HANDLER_RAW:
          return format_raw (&handler, id);
        case HANDLER_TEMPLATE:
        default:
          if (handler.succeeds && g_str_equal (command, "qmp_capabilities"))
            self->negotiated = TRUE;
          return format_template (&handler, id);
        }
    }

  if (g_str_equal (command, "qmp_capabilities"))
    {
      if (self->negotiated)
        return format_error (id, "CommandNotFound",
                             "Capabilities negotiation is already complete, command ignored");
      self->negotiated = TRUE;
      return format_return (id, "{}");
    }
  if (!self->negotiated)
    return format_error (id, "CommandNotFound",
                         "Expecting capabilities negotiation with 'qmp_capabilities'");
  {
    g_autofree char *desc = g_strdup_printf ("The command %s has not been found", command);

    return format_error (id, "CommandNotFound", desc);
  }
}

static void
handle_line (QmpFakeServer *self,
             const char    *line)
{
  g_autofree char *text = g_strstrip (g_strdup (line));
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonObject) request = NULL;
  g_autofree char *reply = NULL;

  g_mutex_lock (&self->lock);
  g_ptr_array_add (self->lines, g_strdup (line));
  notify_locked (self);
  g_mutex_unlock (&self->lock);

  if (*text == '\0')
    return;

  node = json_from_string (text, &error);
  if (node == NULL)
    {
      g_autofree char *desc = g_strdup_printf ("JSON parse error, %s", error->message);

      reply = format_error (NULL, "GenericError", desc);
    }
  else if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      reply = format_error (NULL, "GenericError", "QMP input must be a JSON object");
    }
  else
    {
      /* The test gets the only reference: json-glib's reference counts
       * are not atomic. */
      request = json_node_dup_object (node);
      g_clear_pointer (&node, json_node_unref);
      reply = answer (self, request);
    }

  /* The reply is queued before the test can see the request, so that
   * whatever the test queues after seeing it comes after the reply. */
  if (reply != NULL)
    push_text (self, reply);

  if (request != NULL)
    {
      g_mutex_lock (&self->lock);
      g_queue_push_tail (&self->requests, g_steal_pointer (&request));
      self->n_requests++;
      notify_locked (self);
      g_mutex_unlock (&self->lock);
    }
}

static gboolean
on_client_readable (GSocket      *socket,
                    GIOCondition  condition,
                    gpointer      user_data)
{
  QmpFakeServer *self = user_data;
  g_autoptr(GError) error = NULL;
  char buffer[4096];
  gssize n;
  char *newline;

  n = g_socket_receive (socket, buffer, sizeof buffer, NULL, &error);
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return G_SOURCE_CONTINUE;
  if (n <= 0)
    {
      /* The client left (or broke the connection): like QEMU, forget it,
       * and drop what was queued for it. */
      drop_client (self);
      pump (self);
      return G_SOURCE_REMOVE;
    }

  /* Only the new bytes can end a line: long lines cost linear time. */
  newline = memchr (buffer, '\n', n);
  g_string_append_len (self->inbuf, buffer, n);
  if (newline == NULL)
    return G_SOURCE_CONTINUE;
  while (self->client != NULL &&
         (newline = memchr (self->inbuf->str, '\n', self->inbuf->len)) != NULL)
    {
      g_autofree char *line = g_strndup (self->inbuf->str, newline - self->inbuf->str);

      g_string_erase (self->inbuf, 0, newline - self->inbuf->str + 1);
      handle_line (self, line);
    }
  return G_SOURCE_CONTINUE;
}

/* Reads the client, unless the test said not to. */
static void
watch_client (QmpFakeServer *self)
{
  if (self->client == NULL || self->read_source != NULL || self->not_reading)
    return;
  self->read_source = g_socket_create_source (self->client, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (self->read_source, G_SOURCE_FUNC (on_client_readable), self, NULL);
  g_source_set_static_name (self->read_source, "[fake-qmp] read");
  g_source_attach (self->read_source, self->context);
}

static gboolean
on_incoming (GSocket      *socket,
             GIOCondition  condition,
             gpointer      user_data)
{
  QmpFakeServer *self = user_data;
  g_autoptr(GError) error = NULL;
  GSocket *client;
  g_autofree char *greeting = NULL;

  client = g_socket_accept (socket, NULL, &error);
  if (client == NULL)
    return G_SOURCE_CONTINUE;

  /* One client at a time: the others wait in the backlog. */
  g_clear_pointer (&self->accept_source, g_source_unref);

  /* Output queued while nobody was connected goes nowhere. */
  pump (self);

  g_socket_set_blocking (client, FALSE);
  if (g_socket_get_family (client) != G_SOCKET_FAMILY_UNIX)
    g_socket_set_option (client, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  self->client = client;
  self->negotiated = FALSE;
  watch_client (self);

  g_mutex_lock (&self->lock);
  self->n_connections++;
  greeting = g_strdup (self->greeting);
  notify_locked (self);
  g_mutex_unlock (&self->lock);

  if (greeting != NULL)
    push_text (self, greeting);
  return G_SOURCE_REMOVE;
}

static void
watch_listener (QmpFakeServer *self)
{
  if (self->accept_source != NULL || self->listener == NULL)
    return;
  self->accept_source = g_socket_create_source (self->listener, G_IO_IN, NULL);
  g_source_set_callback (self->accept_source, G_SOURCE_FUNC (on_incoming), self, NULL);
  g_source_set_static_name (self->accept_source, "[fake-qmp] accept");
  g_source_attach (self->accept_source, self->context);
}

/* ------------------------------------------------------------------------ */
/* The server thread: writing */

static gboolean
on_wait_done (gpointer user_data)
{
  QmpFakeServer *self = user_data;

  g_clear_pointer (&self->wait_source, g_source_unref);
  pump (self);
  return G_SOURCE_REMOVE;
}

static gboolean
on_client_writable (GSocket      *socket,
                    GIOCondition  condition,
                    gpointer      user_data)
{
  return on_wait_done (user_data);
}

static void
wait_for (QmpFakeServer *self,
          GSource       *source)
{
  g_assert (self->wait_source == NULL);
  self->wait_source = source;
  g_source_set_static_name (source, "[fake-qmp] wait");
  g_source_attach (source, self->context);
}

/* Bytes written to the client that it has not read yet. */
static int
client_unread (QmpFakeServer *self)
{
#ifdef SIOCOUTQ
  int value = 0;

  if (ioctl (g_socket_get_fd (self->client), SIOCOUTQ, &value) == 0)
    return value;
#endif
  return 0;
}

/* Writes the head output; FALSE while it waits for the socket or for the
 * client to read. */
static gboolean
write_output (QmpFakeServer *self,
              Output        *output)
{
  gsize length;
  const char *data = g_bytes_get_data (output->bytes, &length);

  while (self->client != NULL && self->head_offset < length)
    {
      g_autoptr(GError) error = NULL;
      gsize n = length - self->head_offset;
      gssize sent;

      if (self->cut_budget == 0)
        {
          self->cut_budget = -1;
          drop_client (self);
          break;
        }
      if (self->cut_budget > 0)
        n = MIN (n, (gsize) self->cut_budget);
      if (self->chunk_size > 0)
        {
          n = MIN (n, self->chunk_size);
          if (client_unread (self) > 0)
            {
              GSource *source = g_timeout_source_new (PACING_INTERVAL_MS);

              g_source_set_callback (source, on_wait_done, self, NULL);
              wait_for (self, source);
              return FALSE;
            }
        }

      sent = g_socket_send (self->client, data + self->head_offset, n, NULL, &error);
      if (sent < 0)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            {
              GSource *source = g_socket_create_source (self->client, G_IO_OUT, NULL);

              g_source_set_callback (source, G_SOURCE_FUNC (on_client_writable), self, NULL);
              wait_for (self, source);
              return FALSE;
            }
          /* The client went away. */
          drop_client (self);
          break;
        }

      self->head_offset += sent;
      if (self->cut_budget > 0)
        {
          self->cut_budget -= sent;
          if (self->cut_budget == 0)
            {
              self->cut_budget = -1;
              drop_client (self);
            }
        }
    }
  return TRUE;
}

/* Works through the output queue until it is empty or has to wait. */
static void
pump (QmpFakeServer *self)
{
  for (;;)
    {
      Output *output;

      if (self->wait_source != NULL)
        return;

      /* Only this thread pops, so the head stays while it is worked on. */
      g_mutex_lock (&self->lock);
      output = g_queue_peek_head (&self->outputs);
      g_mutex_unlock (&self->lock);
      if (output == NULL)
        return;

      switch (output->kind)
        {
        case OUT_BYTES:
          if (self->client != NULL && !write_output (self, output))
            return;
          break;
        case OUT_CLOSE:
          drop_client (self);
          break;
        case OUT_CLOSE_AFTER:
          self->cut_budget = output->n;
          break;
        case OUT_CHUNK_SIZE:
          self->chunk_size = output->n;
          break;
        case OUT_RESTART:
          drop_client (self);
          relisten (self);
          break;
        case OUT_READING:
          self->not_reading = !output->n;
          if (self->not_reading)
            clear_source (&self->read_source);
          else
            watch_client (self);
          break;
        default:
          g_assert_not_reached ();
        }

      self->head_offset = 0;
      g_mutex_lock (&self->lock);
      g_queue_pop_head (&self->outputs);
      self->n_done++;
      notify_locked (self);
      g_mutex_unlock (&self->lock);
      output_free (output);
    }
}

static gboolean
on_quit (gpointer user_data)
{
  QmpFakeServer *self = user_data;

  self->quitting = TRUE;
  g_main_loop_quit (self->loop);
  return G_SOURCE_REMOVE;
}

static gpointer
server_thread (gpointer data)
{
  QmpFakeServer *self = data;

  g_main_context_push_thread_default (self->context);
  g_main_loop_run (self->loop);
  drop_client (self);
  clear_source (&self->accept_source);
  g_main_context_pop_thread_default (self->context);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Construction */

static QmpFakeServer *
server_new (GSocketAddress *address)
{
  QmpFakeServer *self = g_new0 (QmpFakeServer, 1);

  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->greeting = g_strdup (QMP_FAKE_GREETING);
  self->handlers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) handler_free);
  g_queue_init (&self->outputs);
  g_queue_init (&self->requests);
  self->lines = g_ptr_array_new_with_free_func (g_free);
  self->inbuf = g_string_new (NULL);
  self->cut_budget = -1;

  self->listener = listen_on (address, &self->bind_address);
  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);
  watch_listener (self);
  self->thread = g_thread_new ("fake-qmp", server_thread, self);
  return self;
}

QmpFakeServer *
qmp_fake_server_new (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("qmpthin-fake-XXXXXX", &error);
  g_autofree char *path = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  QmpFakeServer *self;

  g_assert_no_error (error);
  path = g_build_filename (dir, "qmp.sock", NULL);
  address = g_unix_socket_address_new (path);
  self = server_new (address);
  self->dir = g_steal_pointer (&dir);
  self->path = g_steal_pointer (&path);
  self->address = g_strconcat ("unix:", self->path, NULL);
  return self;
}

QmpFakeServer *
qmp_fake_server_new_tcp (void)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  QmpFakeServer *self = server_new (address);

  self->address = g_strdup_printf ("tcp:127.0.0.1:%u",
                                   g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (self->bind_address)));
  return self;
}

void
qmp_fake_server_free (QmpFakeServer *self)
{
  GSource *source = g_idle_source_new ();

  /* Quitting from inside the loop: a quit before it ran would be lost. */
  g_source_set_priority (source, G_PRIORITY_HIGH);
  g_source_set_callback (source, on_quit, self, NULL);
  g_source_attach (source, self->context);
  g_source_unref (source);
  g_thread_join (self->thread);

  g_socket_close (self->listener, NULL);
  g_object_unref (self->listener);
  if (self->path != NULL)
    g_unlink (self->path);
  if (self->dir != NULL)
    g_rmdir (self->dir);

  g_main_loop_unref (self->loop);
  g_main_context_unref (self->context);
  g_queue_clear_full (&self->outputs, (GDestroyNotify) output_free);
  g_queue_clear_full (&self->requests, (GDestroyNotify) json_object_unref);
  g_ptr_array_unref (self->lines);
  g_hash_table_unref (self->handlers);
  g_string_free (self->inbuf, TRUE);
  g_object_unref (self->bind_address);
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

/* ------------------------------------------------------------------------ */
/* Scripting the answers */

void
qmp_fake_server_set_greeting (QmpFakeServer *self,
                              const char    *raw)
{
  g_mutex_lock (&self->lock);
  g_free (self->greeting);
  self->greeting = g_strdup (raw);
  g_mutex_unlock (&self->lock);
}

static void
set_handler (QmpFakeServer *self,
             const char    *command,
             Handler       *handler)
{
  g_mutex_lock (&self->lock);
  if (handler != NULL)
    g_hash_table_insert (self->handlers, g_strdup (command), handler);
  else
    g_hash_table_remove (self->handlers, command);
  g_mutex_unlock (&self->lock);
}

void
qmp_fake_server_set_reply (QmpFakeServer *self,
                           const char    *command,
                           const char    *reply_template)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = json_from_string (reply_template, &error);
  Handler *handler = g_new0 (Handler, 1);
  JsonObject *object;

  g_assert_no_error (error);
  g_assert_true (node != NULL && JSON_NODE_HOLDS_OBJECT (node));
  object = json_node_get_object (node);

  handler->kind = HANDLER_TEMPLATE;
  handler->text = g_strstrip (g_strdup (reply_template));
  handler->has_id = json_object_has_member (object, "id");
  handler->is_error = json_object_has_member (object, "error");
  handler->succeeds = json_object_has_member (object, "return");
  set_handler (self, command, handler);
}

void
qmp_fake_server_set_raw_reply (QmpFakeServer *self,
                               const char    *command,
                               const char    *raw_template)
{
  Handler *handler = g_new0 (Handler, 1);

  handler->kind = HANDLER_RAW;
  handler->text = g_strdup (raw_template);
  set_handler (self, command, handler);
}

void
qmp_fake_server_hold (QmpFakeServer *self,
                      const char    *command)
{
  Handler *handler = g_new0 (Handler, 1);

  handler->kind = HANDLER_HOLD;
  set_handler (self, command, handler);
}

void
qmp_fake_server_unset_reply (QmpFakeServer *self,
                             const char    *command)
{
  set_handler (self, command, NULL);
}

static char *
request_id (JsonObject *request)
{
  JsonNode *id = json_object_get_member (request, "id");

  return id != NULL ? json_to_string (id, FALSE) : NULL;
}

void
qmp_fake_server_reply (QmpFakeServer *self,
                       JsonObject    *request,
                       const char    *return_json)
{
  g_autofree char *id = request_id (request);
  g_autofree char *line = format_return (id, return_json);

  push_text (self, line);
}

void
qmp_fake_server_reply_error (QmpFakeServer *self,
                             JsonObject    *request,
                             const char    *error_class,
                             const char    *desc)
{
  g_autofree char *id = request_id (request);
  g_autofree char *line = format_error (id, error_class, desc);

  push_text (self, line);
}

/* ------------------------------------------------------------------------ */
/* Waiting, from the test's thread */

typedef gboolean (*Predicate) (QmpFakeServer *self,
                               guint          n);

static gboolean
on_guard_expired (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the calling thread's default main context until @done (called
 * with the lock held) holds; returns with the lock held, FALSE after
 * @timeout_ms. The server wakes the context on every change. */
static gboolean
wait_locked (QmpFakeServer *self,
             Predicate      done,
             guint          n,
             guint          timeout_ms)
{
  g_autoptr(GMainContext) context = g_main_context_ref_thread_default ();
  GSource *guard = g_timeout_source_new (timeout_ms);
  GMainContext *outer;
  gboolean expired = FALSE;
  gboolean ok;

  g_source_set_callback (guard, on_guard_expired, &expired, NULL);
  g_source_attach (guard, context);

  g_mutex_lock (&self->lock);
  outer = self->waiter;
  self->waiter = context;
  while (!(ok = done (self, n)) && !expired)
    {
      g_mutex_unlock (&self->lock);
      g_main_context_iteration (context, TRUE);
      g_mutex_lock (&self->lock);
    }
  self->waiter = outer;

  g_source_destroy (guard);
  g_source_unref (guard);
  return ok;
}

static gboolean
has_requests (QmpFakeServer *self,
              guint          n)
{
  return self->requests.length >= n;
}

static gboolean
has_connections (QmpFakeServer *self,
                 guint          n)
{
  return self->n_connections >= n;
}

static gboolean
has_closed (QmpFakeServer *self,
            guint          n)
{
  return self->n_closed >= n;
}

static void
fail_waiting (const char *what,
              guint       wanted,
              guint       seen,
              guint       timeout_ms)
{
  g_autofree char *message = g_strdup_printf ("fake QMP server: %u %s wanted, %u seen within %u ms",
                                              wanted, what, seen, timeout_ms);

  g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC, message);
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

GPtrArray *
qmp_fake_server_wait_requests (QmpFakeServer *self,
                               guint          n,
                               guint          timeout_ms)
{
  GPtrArray *requests = g_ptr_array_new_full (n, (GDestroyNotify) json_object_unref);
  gboolean ok = wait_locked (self, has_requests, n, timeout_ms);
  guint seen = self->requests.length;

  if (ok)
    for (guint i = 0; i < n; i++)
      g_ptr_array_add (requests, g_queue_pop_head (&self->requests));
  g_mutex_unlock (&self->lock);

  if (!ok)
    fail_waiting ("requests", n, seen, timeout_ms);
  return requests;
}

JsonObject *
qmp_fake_server_wait_request (QmpFakeServer *self,
                              guint          timeout_ms)
{
  g_autoptr(GPtrArray) requests = qmp_fake_server_wait_requests (self, 1, timeout_ms);

  return g_ptr_array_steal_index (requests, 0);
}

guint
qmp_fake_server_get_n_requests (QmpFakeServer *self)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = self->n_requests;
  g_mutex_unlock (&self->lock);
  return n;
}

GStrv
qmp_fake_server_dup_lines (QmpFakeServer *self)
{
  GStrv lines;

  g_mutex_lock (&self->lock);
  lines = g_new0 (char *, self->lines->len + 1);
  for (guint i = 0; i < self->lines->len; i++)
    lines[i] = g_strdup (self->lines->pdata[i]);
  g_mutex_unlock (&self->lock);
  return lines;
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

guint
qmp_fake_server_get_n_closed (QmpFakeServer *self)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = self->n_closed;
  g_mutex_unlock (&self->lock);
  return n;
}

void
qmp_fake_server_wait_connections (QmpFakeServer *self,
                                  guint          n,
                                  guint          timeout_ms)
{
  gboolean ok = wait_locked (self, has_connections, n, timeout_ms);
  guint seen = self->n_connections;

  g_mutex_unlock (&self->lock);
  if (!ok)
    fail_waiting ("connections", n, seen, timeout_ms);
}

void
qmp_fake_server_wait_closed (QmpFakeServer *self,
                             guint          n,
                             guint          timeout_ms)
{
  gboolean ok = wait_locked (self, has_closed, n, timeout_ms);
  guint seen = self->n_closed;

  g_mutex_unlock (&self->lock);
  if (!ok)
    fail_waiting ("closed connections", n, seen, timeout_ms);
}

/* ------------------------------------------------------------------------ */
/* Output */

void
qmp_fake_server_send_bytes (QmpFakeServer *self,
                            const char    *data,
                            gsize          length)
{
  push_bytes (self, data, length);
}

void
qmp_fake_server_send (QmpFakeServer *self,
                      const char    *raw)
{
  push_text (self, raw);
}

void
qmp_fake_server_send_event_at (QmpFakeServer *self,
                               const char    *name,
                               gint64         timestamp_usec,
                               const char    *data_json)
{
  g_autofree char *quoted = json_quote (name);
  /* QEMU sends -1, -1 when it could not read its clock. */
  gint64 seconds = timestamp_usec < 0 ? -1 : timestamp_usec / G_USEC_PER_SEC;
  gint64 microseconds = timestamp_usec < 0 ? -1 : timestamp_usec % G_USEC_PER_SEC;
  g_autofree char *line =
    g_strdup_printf ("{\"timestamp\": {\"seconds\": %" G_GINT64_FORMAT ", \"microseconds\": %"
                     G_GINT64_FORMAT "}, \"event\": %s%s%s}\r\n",
                     seconds, microseconds, quoted,
                     data_json != NULL ? ", \"data\": " : "", data_json != NULL ? data_json : "");

  push_text (self, line);
}

void
qmp_fake_server_send_event (QmpFakeServer *self,
                            const char    *name,
                            const char    *data_json)
{
  qmp_fake_server_send_event_at (self, name, g_get_real_time (), data_json);
}

void
qmp_fake_server_close_client (QmpFakeServer *self)
{
  push_simple (self, OUT_CLOSE, 0);
}

void
qmp_fake_server_close_after (QmpFakeServer *self,
                             gsize          n_bytes)
{
  push_simple (self, OUT_CLOSE_AFTER, n_bytes);
}

void
qmp_fake_server_set_chunk_size (QmpFakeServer *self,
                                gsize          chunk_size)
{
  push_simple (self, OUT_CHUNK_SIZE, chunk_size);
}

void
qmp_fake_server_set_reading (QmpFakeServer *self,
                             gboolean       reading)
{
  push_simple (self, OUT_READING, reading ? 1 : 0);
  qmp_fake_server_flush (self);
}

void
qmp_fake_server_restart (QmpFakeServer *self)
{
  push_simple (self, OUT_RESTART, 0);
}

void
qmp_fake_server_flush (QmpFakeServer *self)
{
  gint64 deadline = g_get_monotonic_time () + FLUSH_LIMIT_MS * 1000;
  guint64 target;

  g_mutex_lock (&self->lock);
  target = self->n_pushed;
  while (self->n_done < target)
    if (!g_cond_wait_until (&self->cond, &self->lock, deadline))
      {
        g_mutex_unlock (&self->lock);
        g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC,
                             "fake QMP server: output not written in time (is the client reading?)");
        return;
      }
  g_mutex_unlock (&self->lock);
}
