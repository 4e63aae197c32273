/* qmp-channel.c: one connection's bytes, in and out
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A channel owns one connection to QEMU: its stream, the bytes not yet
 * written, the framer that cuts what is read into lines, and the sources
 * that read and write. It parses each line into a QmpMessage and hands it
 * up, in wire order, through the hooks it was given, as GDBus's I/O worker
 * reaches its connection only through callbacks: it knows nothing of
 * commands, calls or the client. When reading stops is the owner's
 * decision (_qmp_channel_set_reading()): a queue that is full stops it.
 */

#include <qmpthin/qmp-errors.h>

#include "qmp-channel.h"
#include "qmp-reactor.h"
#include "qmp-stream.h"

struct _QmpChannel
{
  gint ref_count;

  GIOStream *stream;            /* owned */
  GPollableInputStream *input;  /* unowned, from stream */
  GPollableOutputStream *output;/* unowned, from stream */
  GMainContext *context;        /* owned: where its own sources run */
  QmpMessageParser *parser;     /* unowned: the owner's, kept across connections */
  QmpStream *framer;            /* owned */
  GByteArray *outbuf;           /* owned: bytes not yet written */

  GSource *read_source;         /* owned, nullable */
  QmpWatch *read_watch;         /* owned, nullable: read_source's stand-in
                                 * for sockets (qmp-reactor.c) */
  GSource *write_source;        /* owned, nullable */

  char *name;                   /* owned: for messages */
  gboolean wire_trace;
  gboolean greeted;             /* the first line was QEMU's greeting */
  gboolean closed;              /* by the owner, or broken: no more I/O */

  QmpChannelHooks hooks;
  gpointer user_data;
};

QmpChannel *
_qmp_channel_new (GIOStream             *stream,
                  GMainContext          *context,
                  QmpMessageParser      *parser,
                  gsize                  max_message_size,
                  const char            *name,
                  gboolean               wire_trace,
                  const QmpChannelHooks *hooks,
                  gpointer               user_data)
{
  QmpChannel *self = g_new0 (QmpChannel, 1);

  self->ref_count = 1;
  self->stream = g_object_ref (stream);
  self->input = G_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (stream));
  self->output = G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (stream));
  self->context = g_main_context_ref (context);
  self->parser = parser;
  self->framer = _qmp_stream_new (max_message_size);
  self->outbuf = g_byte_array_new ();
  self->name = g_strdup (name);
  self->wire_trace = wire_trace;
  self->hooks = *hooks;
  self->user_data = user_data;
  return self;
}

QmpChannel *
_qmp_channel_ref (QmpChannel *self)
{
  g_atomic_int_inc (&self->ref_count);
  return self;
}

void
_qmp_channel_unref (QmpChannel *self)
{
  if (!g_atomic_int_dec_and_test (&self->ref_count))
    return;
  _qmp_channel_close (self);
  g_object_unref (self->stream);
  g_main_context_unref (self->context);
  _qmp_stream_free (self->framer);
  g_byte_array_unref (self->outbuf);
  g_free (self->name);
  g_free (self);
}

GIOStream *
_qmp_channel_get_stream (QmpChannel *self)
{
  return self->stream;
}

void
_qmp_channel_set_max_message_size (QmpChannel *self,
                                   gsize       max_message_size)
{
  _qmp_stream_set_max_message_size (self->framer, max_message_size);
}

static void
stop_reading (QmpChannel *self)
{
  g_clear_pointer (&self->read_watch, _qmp_watch_free);
  if (self->read_source != NULL)
    {
      g_source_destroy (self->read_source);
      g_clear_pointer (&self->read_source, g_source_unref);
    }
}

static void
stop_io (QmpChannel *self)
{
  self->closed = TRUE;
  stop_reading (self);
  if (self->write_source != NULL)
    {
      g_source_destroy (self->write_source);
      g_clear_pointer (&self->write_source, g_source_unref);
    }
}

/* Stops all I/O and closes the stream; no hook runs after this. */
void
_qmp_channel_close (QmpChannel *self)
{
  if (g_io_stream_is_closed (self->stream))
    return;
  stop_io (self);
  /* Closing a socket does not block; nobody waits for the result. */
  g_io_stream_close (self->stream, NULL, NULL);
}

/* The connection is unusable: tell the owner, once. */
static void
channel_break (QmpChannel *self,
               GError     *error)
{
  if (self->closed)
    {
      g_error_free (error);
      return;
    }
  stop_io (self);
  self->hooks.broken (error, self->user_data);
}

/* ------------------------------------------------------------------------ */
/* Writing */

static void
write_some (QmpChannel *self)
{
  g_autoptr(GError) error = NULL;
  gssize written;

  if (self->closed || self->outbuf->len == 0)
    return;
  written = g_pollable_output_stream_write_nonblocking (self->output,
                                                        self->outbuf->data,
                                                        self->outbuf->len,
                                                        NULL, &error);
  if (written < 0)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        channel_break (self, g_steal_pointer (&error));
      return;
    }
  g_byte_array_remove_range (self->outbuf, 0, written);
}

gboolean
_qmp_channel_has_output (QmpChannel *self)
{
  return !self->closed && self->outbuf->len > 0;
}

/* Queues a line (its terminator included) to be written. Returns %TRUE
 * when the owner is to call _qmp_channel_flush() soon: writing from the
 * next main loop iteration sends every line queued in this one with a
 * single write, and no source is made per command. */
gboolean
_qmp_channel_queue (QmpChannel *self,
                    const char *line,
                    gsize       length)
{
  if (self->wire_trace)
    g_debug ("%s -> %.*s", self->name, (int) length - 1, line);
  g_byte_array_append (self->outbuf, (const guint8 *) line, length);
  return !self->closed && self->write_source == NULL;
}

static gboolean
on_writable (GObject  *stream,
             gpointer  user_data)
{
  QmpChannel *self = user_data;
  g_autoptr(QmpChannel) hold G_GNUC_UNUSED = _qmp_channel_ref (self);

  write_some (self);
  if (_qmp_channel_has_output (self))
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&self->write_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

/* Writes what was queued; a socket that cannot take everything gets a
 * write source until it has. */
void
_qmp_channel_flush (QmpChannel *self)
{
  g_autoptr(QmpChannel) hold G_GNUC_UNUSED = NULL;

  if (self->write_source != NULL || !_qmp_channel_has_output (self))
    return;
  hold = _qmp_channel_ref (self);
  write_some (self);
  if (_qmp_channel_has_output (self))
    {
      self->write_source = g_pollable_output_stream_create_source (self->output, NULL);
      g_source_set_callback (self->write_source, G_SOURCE_FUNC (on_writable), self, NULL);
      g_source_set_static_name (self->write_source, "[qmpthin] write");
      g_source_attach (self->write_source, self->context);
    }
}

/* ------------------------------------------------------------------------ */
/* Reading */

/* What one read framed: handed out once the framer has returned, since
 * what the owner does with a message may close the channel. */
typedef struct
{
  QmpChannel *channel;
  GQueue messages;              /* QmpMessage*, owned */
  GError *error;                /* the line that broke the channel */
} ReadBatch;

static gboolean
on_line (const char *line,
         gsize       length,
         gpointer    user_data)
{
  ReadBatch *batch = user_data;
  QmpChannel *self = batch->channel;
  QmpMessage *message;

  if (self->wire_trace)
    g_debug ("%s <- %.*s", self->name, (int) length, line);

  message = _qmp_message_parser_parse (self->parser, line, length, &batch->error);
  if (!self->greeted && message != NULL &&
      (message->kind == QMP_MESSAGE_RETURN || message->kind == QMP_MESSAGE_ERROR))
    {
      /* QEMU answers a command the previous client of its monitor sent
       * before it went away to the next client, even before its
       * greeting: not this connection's. */
      g_debug ("%s: skipping a reply before the greeting, for the monitor's previous client", self->name);
      _qmp_message_free (message);
      return TRUE;
    }
  if (!self->greeted && (message == NULL || message->kind != QMP_MESSAGE_GREETING))
    {
      /* Whatever QEMU sends first must be its greeting. */
      g_autofree char *excerpt = g_strndup (line, MIN (length, 80));

      g_clear_error (&batch->error);
      g_set_error (&batch->error, QMP_ERROR, QMP_ERROR_INVALID_GREETING,
                   "%s did not start with a QMP greeting: “%s%s”",
                   self->name, excerpt, length > 80 ? "…" : "");
      g_clear_pointer (&message, _qmp_message_free);
      return FALSE;
    }
  if (message == NULL)
    return FALSE;
  self->greeted = TRUE;
  g_queue_push_tail (&batch->messages, message);
  return TRUE;
}

/* One read buffer per thread, shared by its channels: the framer takes
 * every byte of a read (it keeps a partial line itself), and nothing it
 * calls runs the owner's code, so the buffer is free again once
 * _qmp_stream_feed() returns. A buffer per channel would cost each one
 * QMP_STREAM_READ_SIZE of memory as soon as a large reply or a burst of
 * events filled it. */
static char *
get_read_buffer (void)
{
  static GPrivate buffer_key = G_PRIVATE_INIT (g_free);
  char *buffer = g_private_get (&buffer_key);

  if (buffer == NULL)
    {
      buffer = g_malloc (QMP_STREAM_READ_SIZE);
      g_private_set (&buffer_key, buffer);
    }
  return buffer;
}

/* Reads once (QMP_STREAM_READ_SIZE at most), frames, parses and hands out
 * what it read. One read per readiness callback: every message of a read
 * is parsed before the first one is handed out, so the parsed trees of one
 * read must stay in the CPU cache until they are delivered and freed. A
 * 16 KiB read (some 75 events, a few hundred KiB of trees) does; 64 KiB
 * (300 events) delivered an event storm a third slower, and four 64 KiB
 * reads at half the speed. */
static void
channel_read (QmpChannel *self)
{
  g_autoptr(QmpChannel) hold G_GNUC_UNUSED = _qmp_channel_ref (self);
  g_autoptr(GError) error = NULL;
  ReadBatch batch = { self, G_QUEUE_INIT, NULL };
  QmpMessage *message;
  gssize n;

  if (self->closed)
    return;
  n = g_pollable_input_stream_read_nonblocking (self->input, get_read_buffer (),
                                                QMP_STREAM_READ_SIZE, NULL, &error);
  if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return;
  if (n <= 0)
    {
      /* EOF and ECONNRESET are both QEMU closing: `quit` does either. */
      if (n == 0 ||
          g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
          g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE))
        {
          g_clear_error (&error);
          error = g_error_new (G_IO_ERROR, G_IO_ERROR_CLOSED,
                               "QEMU closed the QMP connection %s", self->name);
        }
      else
        {
          g_prefix_error (&error, "Reading from %s: ", self->name);
        }
      channel_break (self, g_steal_pointer (&error));
      return;
    }

  if (!_qmp_stream_feed (self->framer, get_read_buffer (), n, on_line, &batch, &error))
    batch.error = g_steal_pointer (&error);

  /* Messages before a bad one still count: QEMU sent them. */
  while ((message = g_queue_pop_head (&batch.messages)) != NULL)
    {
      if (self->closed)
        _qmp_message_free (message);
      else
        self->hooks.message (message, self->user_data);
    }
  if (batch.error != NULL)
    channel_break (self, batch.error);
}

static gboolean
on_readable (GObject  *stream,
             gpointer  user_data)
{
  channel_read (user_data);
  return G_SOURCE_CONTINUE;
}

static void
on_socket_readable (gpointer user_data)
{
  channel_read (user_data);
}

gboolean
_qmp_channel_get_reading (QmpChannel *self)
{
  return self->read_source != NULL || self->read_watch != NULL;
}

static void
start_reading (QmpChannel *self)
{
  /* A socket joins the context's shared epoll source: a thousand
   * clients in one context cost an iteration what is ready, not a
   * thousand descriptors to poll. */
  if (G_IS_SOCKET_CONNECTION (self->stream))
    {
      GSocket *socket = g_socket_connection_get_socket (G_SOCKET_CONNECTION (self->stream));

      self->read_watch = _qmp_watch_new (self->context, g_socket_get_fd (socket),
                                         on_socket_readable, self);
      if (self->read_watch != NULL)
        return;
    }

  self->read_source = g_pollable_input_stream_create_source (self->input, NULL);
  g_source_set_callback (self->read_source, G_SOURCE_FUNC (on_readable), self, NULL);
  g_source_set_static_name (self->read_source, "[qmpthin] read");
  /* Completing a connect may run the caller's callback from here, and
   * it may wait in a nested main loop for a reply: reading must go on. */
  g_source_set_can_recurse (self->read_source, TRUE);
  g_source_attach (self->read_source, self->context);
}

/* Whether the channel's own source reads: the owner stops it when its
 * queue is full, and QEMU is then the one that buffers. */
void
_qmp_channel_set_reading (QmpChannel *self,
                          gboolean    reading)
{
  if (reading && !self->closed && !_qmp_channel_get_reading (self))
    start_reading (self);
  else if (!reading && _qmp_channel_get_reading (self))
    stop_reading (self);
}

/* A source that reads the channel from another context (a _sync call's
 * private one), whether or not its own source reads. It holds the channel. */
GSource *
_qmp_channel_create_read_source (QmpChannel *self)
{
  GSource *source = g_pollable_input_stream_create_source (self->input, NULL);

  g_source_set_callback (source, G_SOURCE_FUNC (on_readable), _qmp_channel_ref (self),
                         (GDestroyNotify) _qmp_channel_unref);
  g_source_set_static_name (source, "[qmpthin] sync read");
  return source;
}

static gboolean
on_sync_writable (GObject  *stream,
                  gpointer  user_data)
{
  QmpChannel *self = user_data;

  write_some (self);
  return _qmp_channel_has_output (self) ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* A source that writes what is queued from another context, and ends
 * once it is written. It holds the channel. */
GSource *
_qmp_channel_create_write_source (QmpChannel *self)
{
  GSource *source = g_pollable_output_stream_create_source (self->output, NULL);

  g_source_set_callback (source, G_SOURCE_FUNC (on_sync_writable), _qmp_channel_ref (self),
                         (GDestroyNotify) _qmp_channel_unref);
  g_source_set_static_name (source, "[qmpthin] sync write");
  return source;
}
