/* fuzz-stream.c: the framing layer, fed in arbitrary pieces
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Input layout:
 *
 *   byte 0        bits 0-3: number of split points N (1-15; 0 feeds one
 *                 byte at a time, the worst case of a slow peer)
 *                 bits 4-5: max_message_size (unlimited, 16, 64, 4096)
 *                 bits 6-7: max depth (default 512, 1, 3, 32)
 *   byte 1        bits 0-6: deliver this many lines before the consumer
 *                 stops delivery once (0: never stops); bit 7: stop after
 *                 every line
 *   bytes 2..N+1  the lengths of the first N pieces (the rest is the last)
 *   the rest      the bytes QEMU sent
 *
 * The oracle is the framer itself: the same bytes fed whole and fed in
 * the pieces the input chooses must give the same lines and the same
 * verdict (error or not). Every line must also keep the
 * framer's promises: no LF in it, not blank, at most max_message_size
 * bytes. Each piece is fed from a heap copy of exactly its size, so that
 * AddressSanitizer sees any read past it.
 */

#include <string.h>

#include <qmpthin/qmpthin.h>

#include "qmp-stream.h"
#include "fuzz-common.h"

typedef struct {
  GPtrArray *lines;             /* GBytes */
  gsize max_message_size;
  guint stop_at;                /* stop delivery once, after this many lines */
  gboolean stop_always;
  gboolean stopped;             /* the last call returned FALSE */
} Sink;

static gboolean
is_blank (const char *line,
          gsize       length)
{
  for (gsize i = 0; i < length; i++)
    if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
      return FALSE;
  return TRUE;
}

static gboolean
on_line (const char *line,
         gsize       length,
         gpointer    user_data)
{
  Sink *sink = user_data;

  /* A line read whole in one piece is handed out in place, followed by
   * its terminator: no caller may rely on more than @length bytes. */
  g_assert_nonnull (line);
  /* Every LF ends a line. */
  g_assert_null (memchr (line, '\n', length));
  g_assert_false (is_blank (line, length));
  g_assert_cmpuint (length, <=, sink->max_message_size);

  g_ptr_array_add (sink->lines, g_bytes_new (line, length));
  sink->stopped = sink->stop_always ||
                  (sink->stop_at > 0 && sink->lines->len == sink->stop_at);
  return !sink->stopped;
}

/* Feeds one piece; when the consumer stopped, feeds nothing until it has
 * taken every buffered line, as the client does when it reads on. */
static gboolean
feed (QmpStream  *stream,
      Sink       *sink,
      const char *data,
      gsize       length,
      GError    **error)
{
  /* A copy of exactly the piece: reading past it is an ASan report. */
  g_autofree char *piece = g_memdup2 (data, length);

  sink->stopped = FALSE;
  if (!_qmp_stream_feed (stream, piece != NULL ? piece : "", length, on_line, sink, error))
    return FALSE;
  while (sink->stopped)
    {
      gsize before = _qmp_stream_get_buffered (stream);

      sink->stopped = FALSE;
      if (!_qmp_stream_feed (stream, NULL, 0, on_line, sink, error))
        return FALSE;
      /* Stopping again is fine; making no progress is not. */
      g_assert_true (sink->stopped || _qmp_stream_get_buffered (stream) <= before);
    }
  return TRUE;
}

typedef struct {
  gsize max_message_size;
  guint max_depth;
  guint stop_at;
  gboolean stop_always;
} Config;

/* Frames @data in the pieces of @splits (lengths; what is left over is
 * one last piece). Returns the lines, and whether it failed. */
static GPtrArray *
frame (const Config *config,
       const char   *data,
       gsize         length,
       const guint  *splits,
       guint         n_splits,
       gboolean     *failed)
{
  g_autoptr(QmpStream) stream = _qmp_stream_new (config->max_message_size);
  g_autoptr(GError) error = NULL;
  Sink sink = { 0, };
  gsize pos = 0;

  sink.lines = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  sink.max_message_size = config->max_message_size > 0 ? config->max_message_size : G_MAXSIZE;
  sink.stop_at = config->stop_at;
  sink.stop_always = config->stop_always;
  if (config->max_depth > 0)
    _qmp_stream_set_max_depth (stream, config->max_depth);

  *failed = FALSE;
  for (guint i = 0; i <= n_splits && !*failed; i++)
    {
      gsize piece = i < n_splits ? MIN (splits[i], length - pos) : length - pos;

      if (!feed (stream, &sink, data + pos, piece, &error))
        {
          g_assert_nonnull (error);
          g_assert_true (error->domain == QMP_ERROR);
          *failed = TRUE;
          /* A broken stream stays broken. */
          g_clear_error (&error);
          g_assert_false (_qmp_stream_feed (stream, "\n", 1, on_line, &sink, &error));
          g_assert_nonnull (error);
          break;
        }
      g_assert_no_error (error);
      g_assert_cmpuint (_qmp_stream_get_buffered (stream), <=, length);
      pos += piece;
    }

  /* Reset makes it usable again. */
  _qmp_stream_reset (stream);
  g_assert_cmpuint (_qmp_stream_get_buffered (stream), ==, 0);
  return sink.lines;
}

static void
assert_same_lines (GPtrArray *a,
                   GPtrArray *b)
{
  g_assert_cmpuint (a->len, ==, b->len);
  for (guint i = 0; i < a->len; i++)
    g_assert_true (g_bytes_equal (a->pdata[i], b->pdata[i]));
}

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_setup_logging ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  static const gsize sizes[] = { 0, 16, 64, 4096 };
  static const guint depths[] = { 0, 1, 3, 32 };
  Config config = { 0, };
  guint splits[16];
  guint n_splits;
  const char *payload;
  gsize length;
  g_autoptr(GPtrArray) whole = NULL;
  g_autoptr(GPtrArray) pieces = NULL;
  g_autofree guint *ones = NULL;
  gboolean whole_failed, pieces_failed;

  if (size < 2)
    return 0;

  fuzz_setup_logging ();
  n_splits = data[0] & 0x0f;
  config.max_message_size = sizes[(data[0] >> 4) & 3];
  config.max_depth = depths[(data[0] >> 6) & 3];
  if (size < 2 + n_splits)
    return 0;
  for (guint i = 0; i < n_splits; i++)
    splits[i] = data[2 + i];
  payload = (const char *) data + 2 + n_splits;
  length = size - 2 - n_splits;

  /* Whole, without stopping: the reference. */
  whole = frame (&config, payload, length, NULL, 0, &whole_failed);

  /* The chosen pieces, with the consumer stopping delivery as chosen. */
  config.stop_at = data[1] & 0x7f;
  config.stop_always = (data[1] & 0x80) != 0;
  if (n_splits == 0)
    {
      if (length > 4096)
        return 0;
      ones = g_new (guint, length);
      for (gsize i = 0; i < length; i++)
        ones[i] = 1;
      pieces = frame (&config, payload, length, ones, length, &pieces_failed);
    }
  else
    {
      pieces = frame (&config, payload, length, splits, n_splits, &pieces_failed);
    }
  g_assert_cmpint (whole_failed, ==, pieces_failed);
  assert_same_lines (whole, pieces);

  return 0;
}
