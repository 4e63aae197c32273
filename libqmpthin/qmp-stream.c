/* qmp-stream.c: framing of a QMP byte stream into JSON texts
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * QEMU writes one JSON object per line and ends every line with CRLF. The
 * framer turns the bytes of any number of reads into complete lines. While
 * it looks for the end of a line it also tracks, outside JSON strings, how
 * deep arrays and objects nest: the JSON reader recurses, so a line that
 * nests too deep is refused before it ever reaches it. Both limits are
 * enforced on the partial line, so a peer that never sends a newline
 * cannot make the buffer grow past max_message_size.
 *
 * The framer does no I/O and knows nothing of QMP beyond this.
 */

#include <string.h>

#include <qmpthin/qmp-errors.h>

#include "qmp-stream.h"

struct _QmpStream
{
  /* The current, incomplete line, already scanned (the scanner state below
   * is the state at its end); or, when unscanned is set, bytes left over
   * after the consumer stopped delivery, starting at a line boundary. */
  GByteArray *buffer;
  gboolean unscanned;

  gsize max_message_size;
  guint max_depth;

  /* Scanner state at the end of the buffered partial line. */
  guint depth;
  gboolean in_string;
  gboolean escaped;
  gboolean value_closed;        /* a top-level array or object ended */

  /* Set once a limit was broken: the stream is out of sync for good. */
  GError *error;
};

QmpStream *
_qmp_stream_new (gsize max_message_size)
{
  QmpStream *stream = g_new0 (QmpStream, 1);

  stream->buffer = g_byte_array_new ();
  stream->max_message_size = max_message_size > 0 ? max_message_size : G_MAXSIZE;
  stream->max_depth = QMP_STREAM_DEFAULT_MAX_DEPTH;
  return stream;
}

void
_qmp_stream_free (QmpStream *stream)
{
  if (stream == NULL)
    return;
  g_byte_array_unref (stream->buffer);
  g_clear_error (&stream->error);
  g_free (stream);
}

void
_qmp_stream_set_max_message_size (QmpStream *stream,
                                 gsize      max_message_size)
{
  stream->max_message_size = max_message_size > 0 ? max_message_size : G_MAXSIZE;
}

gsize
_qmp_stream_get_max_message_size (QmpStream *stream)
{
  return stream->max_message_size;
}

void
_qmp_stream_set_max_depth (QmpStream *stream,
                          guint      max_depth)
{
  stream->max_depth = max_depth;
}

gsize
_qmp_stream_get_buffered (QmpStream *stream)
{
  return stream->buffer->len;
}

static void
reset_line_state (QmpStream *stream)
{
  stream->depth = 0;
  stream->in_string = FALSE;
  stream->escaped = FALSE;
  stream->value_closed = FALSE;
}

void
_qmp_stream_reset (QmpStream *stream)
{
  g_byte_array_set_size (stream->buffer, 0);
  stream->unscanned = FALSE;
  reset_line_state (stream);
  g_clear_error (&stream->error);
}

static gboolean
poison (QmpStream  *stream,
        GError     *error,
        GError    **out_error)
{
  stream->error = error;
  g_propagate_error (out_error, g_error_copy (error));
  return FALSE;
}

static gboolean
is_blank (const char *line,
          gsize       length)
{
  gsize i;

  for (i = 0; i < length; i++)
    if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
      return FALSE;
  return TRUE;
}

/* Scans bytes [from, to) of data for the end of the current line, updating
 * the nesting state. Returns the offset of the '\n', or to when there is none
 * in range; returns G_MAXSIZE when a limit was broken (error set). */
static gsize
scan (QmpStream   *stream,
      const char  *data,
      gsize        from,
      gsize        to,
      GError     **error)
{
  guint depth = stream->depth;
  gboolean in_string = stream->in_string;
  gboolean escaped = stream->escaped;
  gboolean value_closed = stream->value_closed;
  gsize i;

  for (i = from; i < to; i++)
    {
      char c = data[i];

      if (in_string)
        {
          /* Every LF ends a line, even after a backslash: JSON strings
           * cannot hold one raw, so the parser will refuse the line. */
          if (c == '\n')
            break;
          if (escaped)
            escaped = FALSE;
          else if (c == '\\')
            escaped = TRUE;
          else if (c == '"')
            in_string = FALSE;
          continue;
        }

      /* QMP sends exactly one value per line: a second one is refused
       * here already, before the rest of its line is buffered. */
      if (value_closed && c != ' ' && c != '\t' && c != '\r' && c != '\n')
        {
          g_set_error_literal (error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                               "More than one JSON value on one line");
          return G_MAXSIZE;
        }

      switch (c)
        {
        case '\n':
          goto out;
        case '"':
          in_string = TRUE;
          break;
        case '{':
        case '[':
          if (++depth > stream->max_depth)
            {
              g_set_error (error, QMP_ERROR, QMP_ERROR_NESTING_TOO_DEEP,
                           "Message nests arrays and objects deeper than %u levels",
                           stream->max_depth);
              return G_MAXSIZE;
            }
          break;
        case '}':
        case ']':
          if (depth > 0 && --depth == 0)
            value_closed = TRUE;
          break;
        default:
          break;
        }
    }

out:
  stream->depth = depth;
  stream->in_string = in_string;
  stream->escaped = escaped;
  stream->value_closed = value_closed;
  return i;
}

/* A trailing CR is part of the terminator, not of the message. */
static gsize
content_length (const char *line,
                gsize       length)
{
  return (length > 0 && line[length - 1] == '\r') ? length - 1 : length;
}

static gboolean
check_size (QmpStream  *stream,
            gsize       length,
            GError    **error)
{
  if (length <= stream->max_message_size)
    return TRUE;
  g_set_error (error, QMP_ERROR, QMP_ERROR_MESSAGE_TOO_LARGE,
               "Message exceeds the limit of %" G_GSIZE_FORMAT " bytes",
               stream->max_message_size);
  return FALSE;
}

static gboolean
deliver (QmpStream         *stream,
         const char        *line,
         gsize              length,
         QmpStreamLineFunc  func,
         gpointer           user_data)
{
  length = content_length (line, length);
  if (is_blank (line, length))
    return TRUE;
  return func (line, length, user_data);
}

static gboolean
feed_bytes (QmpStream          *stream,
            const char         *data,
            gsize               length,
            QmpStreamLineFunc   func,
            gpointer            user_data,
            GError            **error)
{
  gsize pos = 0;

  while (pos < length)
    {
      GError *local_error = NULL;
      gsize buffered = stream->buffer->len;
      gsize nl = scan (stream, data, pos, length, &local_error);
      gboolean go_on;

      if (nl == G_MAXSIZE)
        return poison (stream, local_error, error);

      if (nl == length)
        {
          /* No end of line yet: keep the partial line, unless it already
           * cannot become an acceptable message. */
          gsize partial = buffered + (length - pos);

          if (partial > stream->max_message_size &&
              !check_size (stream, partial - (data[length - 1] == '\r'), &local_error))
            return poison (stream, local_error, error);
          g_byte_array_append (stream->buffer, (const guint8 *) data + pos, length - pos);
          return TRUE;
        }

      {
        gsize total = buffered + (nl - pos);
        char last = nl > pos ? data[nl - 1] : (buffered > 0 ? (char) stream->buffer->data[buffered - 1] : 0);

        /* A CR right before the LF is part of the terminator. */
        if (last == '\r')
          total--;
        if (!check_size (stream, total, &local_error))
          return poison (stream, local_error, error);
      }

      reset_line_state (stream);
      if (buffered > 0)
        {
          g_byte_array_append (stream->buffer, (const guint8 *) data + pos, nl - pos);
          go_on = deliver (stream, (const char *) stream->buffer->data, stream->buffer->len,
                           func, user_data);
          g_byte_array_set_size (stream->buffer, 0);
        }
      else
        {
          go_on = deliver (stream, data + pos, nl - pos, func, user_data);
        }
      pos = nl + 1;

      if (!go_on)
        {
          /* Keep the rest, unscanned, for the next feed. */
          g_byte_array_append (stream->buffer, (const guint8 *) data + pos, length - pos);
          stream->unscanned = stream->buffer->len > 0;
          return TRUE;
        }
    }

  return TRUE;
}

gboolean
_qmp_stream_feed (QmpStream          *stream,
                 const char         *data,
                 gsize               length,
                 QmpStreamLineFunc   func,
                 gpointer            user_data,
                 GError            **error)
{
  g_return_val_if_fail (stream != NULL, FALSE);
  g_return_val_if_fail (data != NULL || length == 0, FALSE);
  g_return_val_if_fail (func != NULL, FALSE);

  if (stream->error != NULL)
    {
      g_propagate_error (error, g_error_copy (stream->error));
      return FALSE;
    }

  if (stream->unscanned)
    {
      /* Bytes left over when the consumer stopped delivery start at a line
       * boundary and have not been scanned: scan them again, then the new. */
      g_autoptr(GByteArray) pending = g_steal_pointer (&stream->buffer);

      stream->buffer = g_byte_array_new ();
      stream->unscanned = FALSE;
      reset_line_state (stream);
      g_byte_array_append (pending, (const guint8 *) data, length);
      return feed_bytes (stream, (const char *) pending->data, pending->len,
                         func, user_data, error);
    }

  return feed_bytes (stream, data, length, func, user_data, error);
}
