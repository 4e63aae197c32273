/* test-stream.c: the framing layer alone
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include <qmpthin/qmpthin.h>

#include "qmp-stream.h"
#include "qmp-test-util.h"

typedef struct {
  GPtrArray *lines;
  guint stop_after;             /* 0: never stop */
} Collector;

static gboolean
collect (const char *line,
         gsize       length,
         gpointer    user_data)
{
  Collector *c = user_data;

  g_ptr_array_add (c->lines, g_strndup (line, length));
  return c->stop_after == 0 || c->lines->len < c->stop_after;
}

static Collector *
collector_new (void)
{
  Collector *c = g_new0 (Collector, 1);

  c->lines = g_ptr_array_new_with_free_func (g_free);
  return c;
}

static void
collector_free (Collector *c)
{
  g_ptr_array_unref (c->lines);
  g_free (c);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Collector, collector_free)

static void
feed_ok (QmpStream  *stream,
         const char *data,
         gsize       length,
         Collector  *c)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (_qmp_stream_feed (stream, data, length, collect, c, &error));
  g_assert_no_error (error);
}

static void
test_terminators (void)
{
  g_autoptr(QmpStream) stream = _qmp_stream_new (1024);
  g_autoptr(Collector) c = collector_new ();
  const char *input = "{\"a\": 1}\r\n{\"b\": 2}\n\r\n   \n\t\r\n{\"c\": 3}\r";

  feed_ok (stream, input, strlen (input), c);
  g_assert_cmpuint (c->lines->len, ==, 2);
  g_assert_cmpstr (c->lines->pdata[0], ==, "{\"a\": 1}");
  g_assert_cmpstr (c->lines->pdata[1], ==, "{\"b\": 2}");
  /* The last line waits for its LF; the CR is not part of it. */
  g_assert_cmpuint (_qmp_stream_get_buffered (stream), ==, strlen ("{\"c\": 3}\r"));
  feed_ok (stream, "\n", 1, c);
  g_assert_cmpuint (c->lines->len, ==, 3);
  g_assert_cmpstr (c->lines->pdata[2], ==, "{\"c\": 3}");
  g_assert_cmpuint (_qmp_stream_get_buffered (stream), ==, 0);
}

/* Feeding the same bytes in any pieces yields the same lines. */
static GPtrArray *
frame_in_pieces (const char *data,
                 gsize       length,
                 const gsize *cuts,
                 guint        n_cuts)
{
  g_autoptr(QmpStream) stream = _qmp_stream_new (QMP_CLIENT_DEFAULT_MAX_MESSAGE_SIZE);
  Collector *c = collector_new ();
  GPtrArray *lines;
  gsize pos = 0;

  for (guint i = 0; i <= n_cuts; i++)
    {
      gsize end = i < n_cuts ? cuts[i] : length;

      feed_ok (stream, data + pos, end - pos, c);
      pos = end;
    }
  lines = g_ptr_array_ref (c->lines);
  collector_free (c);
  return lines;
}

static void
assert_same_lines (GPtrArray *a,
                   GPtrArray *b)
{
  g_assert_cmpuint (a->len, ==, b->len);
  for (guint i = 0; i < a->len; i++)
    g_assert_cmpstr (a->pdata[i], ==, b->pdata[i]);
}

static void
test_split_points (void)
{
  const char *input =
    "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n"
    "{\"return\": \"a\\\"}\\\\ [\", \"id\": \"x\"}\r\n"
    "{\"event\": \"STOP\"}\r\n";
  gsize length = strlen (input);
  g_autoptr(GPtrArray) whole = frame_in_pieces (input, length, NULL, 0);

  g_assert_cmpuint (whole->len, ==, 3);
  g_assert_cmpstr (whole->pdata[1], ==, "{\"return\": \"a\\\"}\\\\ [\", \"id\": \"x\"}");

  /* Every 2-way and 3-way split, including between CR and LF and inside
   * strings and escapes. */
  for (gsize i = 0; i <= length; i++)
    for (gsize j = i; j <= length; j += 7)
      {
        gsize cuts[2] = { i, j };
        g_autoptr(GPtrArray) lines = frame_in_pieces (input, length, cuts, 2);

        assert_same_lines (whole, lines);
      }

  /* One byte at a time. */
  {
    g_autofree gsize *cuts = g_new (gsize, length);
    g_autoptr(GPtrArray) lines = NULL;

    for (gsize i = 0; i < length; i++)
      cuts[i] = i;
    lines = frame_in_pieces (input, length, cuts, length);
    assert_same_lines (whole, lines);
  }
}

static const char * const recorded_7_2[] = {
  "s2_write_threshold-tcg.jsonl", "s4_extend_resume-tcg-virtio.jsonl",
  "s6_event_rate-tcg-virtio.head3000.jsonl", NULL
};
static const char * const recorded_10_0[] = {
  "qemu-10.0/s2_write_threshold.jsonl", "qemu-10.0/s4_extend_resume.jsonl",
  "qemu-10.0/s6_event_rate.jsonl", NULL
};

static void
test_recorded_stream (gconstpointer data)
{
  const char * const *names = data;

  for (gsize n = 0; names[n] != NULL; n++)
    {
      g_autoptr(GPtrArray) records = qmp_test_load_transcript (names[n]);
      g_autoptr(GString) bytes = qmp_test_transcript_received (records);
      g_autoptr(GPtrArray) expected = g_ptr_array_new_with_free_func (g_free);
      g_autoptr(GRand) rand = g_rand_new_with_seed (42 + n);
      g_autoptr(GArray) cuts = g_array_new (FALSE, FALSE, sizeof (gsize));
      g_autoptr(GPtrArray) lines = NULL;
      gsize pos = 0;

      for (guint i = 0; i < records->len; i++)
        {
          QmpTestRecord *record = records->pdata[i];

          if (!record->sent)
            {
              g_assert_true (g_str_has_suffix (record->raw, "\r\n"));
              g_ptr_array_add (expected, g_strndup (record->raw, strlen (record->raw) - 2));
            }
        }

      while (TRUE)
        {
          pos += g_rand_int_range (rand, 1, 9000);
          if (pos >= bytes->len)
            break;
          g_array_append_val (cuts, pos);
        }
      lines = frame_in_pieces (bytes->str, bytes->len, (gsize *) cuts->data, cuts->len);
      g_assert_cmpuint (lines->len, >, 10);
      assert_same_lines (expected, lines);
    }
}

static void
test_size_limit (void)
{
  const gsize limit = 100;
  g_autofree char *at_limit = g_strnfill (limit, 'x');
  g_autofree char *over = g_strnfill (limit + 1, 'x');
  g_autoptr(GError) error = NULL;

  /* Exactly at the limit, with CRLF and with LF: accepted. */
  {
    g_autoptr(QmpStream) stream = _qmp_stream_new (limit);
    g_autoptr(Collector) c = collector_new ();

    feed_ok (stream, at_limit, limit, c);
    feed_ok (stream, "\r", 1, c);
    feed_ok (stream, "\n", 1, c);
    feed_ok (stream, at_limit, limit, c);
    feed_ok (stream, "\n", 1, c);
    g_assert_cmpuint (c->lines->len, ==, 2);
    g_assert_cmpuint (strlen (c->lines->pdata[0]), ==, limit);
  }

  /* One over, complete line: refused. */
  {
    g_autoptr(QmpStream) stream = _qmp_stream_new (limit);
    g_autoptr(Collector) c = collector_new ();
    g_autofree char *line = g_strconcat (over, "\r\n", NULL);

    g_assert_false (_qmp_stream_feed (stream, line, strlen (line), collect, c, &error));
    g_assert_error (error, QMP_ERROR, QMP_ERROR_MESSAGE_TOO_LARGE);
    g_clear_error (&error);
    g_assert_cmpuint (c->lines->len, ==, 0);
  }

  /* One over, no newline yet: refused before the newline comes, in pieces too. */
  {
    g_autoptr(QmpStream) stream = _qmp_stream_new (limit);
    g_autoptr(Collector) c = collector_new ();

    feed_ok (stream, over, limit, c);
    g_assert_false (_qmp_stream_feed (stream, "x", 1, collect, c, &error));
    g_assert_error (error, QMP_ERROR, QMP_ERROR_MESSAGE_TOO_LARGE);
    g_clear_error (&error);
    g_assert_cmpuint (_qmp_stream_get_buffered (stream), <=, limit + 1);
  }

  /* A huge chunk without a newline: refused at once, nothing kept. */
  {
    gsize huge = 8 * 1024 * 1024;
    g_autofree char *data = g_malloc (huge);
    g_autoptr(QmpStream) stream = _qmp_stream_new (limit);
    g_autoptr(Collector) c = collector_new ();

    memset (data, 'a', huge);
    g_assert_false (_qmp_stream_feed (stream, data, huge, collect, c, &error));
    g_assert_error (error, QMP_ERROR, QMP_ERROR_MESSAGE_TOO_LARGE);
    g_clear_error (&error);
    g_assert_cmpuint (_qmp_stream_get_buffered (stream), ==, 0);
  }
}

static void
test_depth_limit (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) line = g_string_new (NULL);

  /* At the limit: accepted. */
  {
    g_autoptr(QmpStream) stream = _qmp_stream_new (1024 * 1024);
    g_autoptr(Collector) c = collector_new ();

    _qmp_stream_set_max_depth (stream, 8);
    g_string_assign (line, "{\"a\":[[[[[[[1]]]]]]]}\n");
    feed_ok (stream, line->str, line->len, c);
    g_assert_cmpuint (c->lines->len, ==, 1);
  }

  /* Brackets inside strings, escaped quotes included, do not count. */
  {
    g_autoptr(QmpStream) stream = _qmp_stream_new (1024 * 1024);
    g_autoptr(Collector) c = collector_new ();

    _qmp_stream_set_max_depth (stream, 2);
    g_string_assign (line, "{\"a\": \"[[[[{{{{\\\"[[[[\\\\\", \"b\": [\"]]]]\"]}\n");
    feed_ok (stream, line->str, line->len, c);
    g_assert_cmpuint (c->lines->len, ==, 1);
    /* Depth is per line: the next starts from zero. */
    feed_ok (stream, "[[1]]\n[[2]]\n", 12, c);
    g_assert_cmpuint (c->lines->len, ==, 3);
  }

  /* One over: refused. */
  {
    g_autoptr(QmpStream) stream = _qmp_stream_new (1024 * 1024);
    g_autoptr(Collector) c = collector_new ();

    _qmp_stream_set_max_depth (stream, 8);
    g_string_assign (line, "{\"a\":[[[[[[[[1]]]]]]]]}\n");
    g_assert_false (_qmp_stream_feed (stream, line->str, line->len, collect, c, &error));
    g_assert_error (error, QMP_ERROR, QMP_ERROR_NESTING_TOO_DEEP);
    g_clear_error (&error);
  }

  /* 100000 levels (json-glib would exhaust its stack): refused cleanly,
   * with the default limit, and before the line ends. */
  {
    g_autoptr(QmpStream) stream = _qmp_stream_new (QMP_CLIENT_DEFAULT_MAX_MESSAGE_SIZE);
    g_autoptr(Collector) c = collector_new ();
    g_autofree char *deep = g_strnfill (100000, '[');

    g_assert_false (_qmp_stream_feed (stream, deep, 100000, collect, c, &error));
    g_assert_error (error, QMP_ERROR, QMP_ERROR_NESTING_TOO_DEEP);
    g_clear_error (&error);
  }
}

static void
test_two_values (void)
{
  const char *lines[] = { "{\"return\": {}} {\"return\": {}}\n", "[1][2]\n", "{}x\n" };

  for (gsize i = 0; i < G_N_ELEMENTS (lines); i++)
    {
      g_autoptr(QmpStream) stream = _qmp_stream_new (1024);
      g_autoptr(Collector) c = collector_new ();
      g_autoptr(GError) error = NULL;

      g_assert_false (_qmp_stream_feed (stream, lines[i], strlen (lines[i]), collect, c, &error));
      g_assert_error (error, QMP_ERROR, QMP_ERROR_PROTOCOL);
      g_assert_cmpuint (c->lines->len, ==, 0);
    }

  /* Trailing blanks are fine, and the next line starts afresh. */
  {
    g_autoptr(QmpStream) stream = _qmp_stream_new (1024);
    g_autoptr(Collector) c = collector_new ();

    feed_ok (stream, "{} \t\r\n{}\n", 9, c);
    g_assert_cmpuint (c->lines->len, ==, 2);
  }
}

static void
test_poisoned (void)
{
  g_autoptr(QmpStream) stream = _qmp_stream_new (10);
  g_autoptr(Collector) c = collector_new ();
  g_autoptr(GError) error = NULL;

  g_assert_false (_qmp_stream_feed (stream, "0123456789ab\n", 13, collect, c, &error));
  g_assert_error (error, QMP_ERROR, QMP_ERROR_MESSAGE_TOO_LARGE);
  g_clear_error (&error);

  /* Out of sync for good: valid input fails the same way. */
  g_assert_false (_qmp_stream_feed (stream, "{}\n", 3, collect, c, &error));
  g_assert_error (error, QMP_ERROR, QMP_ERROR_MESSAGE_TOO_LARGE);
  g_clear_error (&error);
  g_assert_cmpuint (c->lines->len, ==, 0);

  _qmp_stream_reset (stream);
  feed_ok (stream, "{}\n", 3, c);
  g_assert_cmpuint (c->lines->len, ==, 1);
}

static void
test_stop_delivery (void)
{
  g_autoptr(QmpStream) stream = _qmp_stream_new (1024);
  g_autoptr(Collector) c = collector_new ();
  const char *input = "1\r\n2\r\n3\r\n4";

  c->stop_after = 1;
  feed_ok (stream, input, strlen (input), c);
  g_assert_cmpuint (c->lines->len, ==, 1);
  g_assert_cmpuint (_qmp_stream_get_buffered (stream), ==, strlen ("2\r\n3\r\n4"));

  /* The rest comes with the next feed, in order. */
  c->stop_after = 0;
  feed_ok (stream, "\n", 1, c);
  g_assert_cmpuint (c->lines->len, ==, 4);
  g_assert_cmpstr (c->lines->pdata[1], ==, "2");
  g_assert_cmpstr (c->lines->pdata[3], ==, "4");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/qmp/stream/terminators", test_terminators);
  g_test_add_func ("/qmp/stream/split-points", test_split_points);
  g_test_add_data_func ("/qmp/stream/recorded/qemu-7.2", recorded_7_2, test_recorded_stream);
  g_test_add_data_func ("/qmp/stream/recorded/qemu-10.0", recorded_10_0, test_recorded_stream);
  g_test_add_func ("/qmp/stream/size-limit", test_size_limit);
  g_test_add_func ("/qmp/stream/depth-limit", test_depth_limit);
  g_test_add_func ("/qmp/stream/two-values", test_two_values);
  g_test_add_func ("/qmp/stream/poisoned", test_poisoned);
  g_test_add_func ("/qmp/stream/stop-delivery", test_stop_delivery);

  return g_test_run ();
}
