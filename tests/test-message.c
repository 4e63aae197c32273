/* test-message.c: the message layer alone
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include <qmpthin/qmpthin.h>

#include "qmp-message.h"
#include "qmp-stream.h"
#include "qmp-test-util.h"

static QmpMessage *
parse (QmpMessageParser *parser,
       const char       *text,
       GError          **error)
{
  return _qmp_message_parser_parse (parser, text, -1, error);
}

/* A recorded greeting and what it says. */
typedef struct {
  const char *transcript;
  guint major, minor, micro;
  const char *package;
} Greeting;

static const Greeting greeting_7_2 = {
  "s1_greeting-tcg.jsonl", 7, 2, 22, "Debian 1:7.2+dfsg-7+deb12u18+b3"
};
static const Greeting greeting_10_0 = {
  "qemu-10.0/s1_greeting.jsonl", 10, 0, 2, "Debian 1:10.0.2+ds-2+deb13u1~bpo12+1"
};

static void
test_greeting (gconstpointer data)
{
  const Greeting *expected = data;
  g_autoptr(QmpMessageParser) parser = _qmp_message_parser_new ();
  g_autoptr(GPtrArray) records = qmp_test_load_transcript (expected->transcript);
  QmpTestRecord *first = records->pdata[0];
  g_autoptr(QmpMessage) message = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_false (first->sent);
  message = _qmp_message_parser_parse (parser, first->raw, strlen (first->raw) - 2, &error);
  g_assert_no_error (error);
  g_assert_cmpint (message->kind, ==, QMP_MESSAGE_GREETING);
  g_assert_cmpuint (message->qemu_major, ==, expected->major);
  g_assert_cmpuint (message->qemu_minor, ==, expected->minor);
  g_assert_cmpuint (message->qemu_micro, ==, expected->micro);
  g_assert_cmpstr (message->qemu_package, ==, expected->package);
  g_assert_cmpuint (json_array_get_length (message->capabilities), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (message->capabilities, 0), ==, "oob");
  g_assert_null (message->id);
}

/* The recordings of each QEMU, but 7.2's storm of 3000 events: test-event
 * and test-stream replay that one. */
static const char * const recorded_7_2[] = {
  "s1_greeting-tcg.jsonl", "s2_write_threshold-tcg.jsonl", "s3_enospc_pause-tcg-virtio.jsonl",
  "s3_enospc_pause-tcg-drive.jsonl", "s4_extend_resume-tcg-virtio.jsonl",
  "s4b_blkdebug-tcg-blockdev.jsonl", "s5_reconnect-tcg-virtio.jsonl", "s7_storage_daemon-qsd.jsonl",
  NULL
};
static const char * const recorded_10_0[] = {
  "qemu-10.0/s1_greeting.jsonl", "qemu-10.0/s2_write_threshold.jsonl", "qemu-10.0/s3_enospc_pause.jsonl",
  "qemu-10.0/s4_extend_resume.jsonl", "qemu-10.0/s5_reconnect.jsonl", "qemu-10.0/s6_event_rate.jsonl",
  "qemu-10.0/s7_storage_daemon.jsonl",
  NULL
};

/* Every line QEMU sent in the recordings is classified as the raw JSON
 * says, with its id, error class, event name and timestamp. */
static void
test_recorded (gconstpointer data)
{
  const char * const *names = data;
  g_autoptr(QmpMessageParser) parser = _qmp_message_parser_new ();
  guint counts[4] = { 0, };

  for (gsize n = 0; names[n] != NULL; n++)
    {
      g_autoptr(GPtrArray) records = qmp_test_load_transcript (names[n]);

      for (guint i = 0; i < records->len; i++)
        {
          QmpTestRecord *record = records->pdata[i];
          g_autoptr(QmpMessage) message = NULL;
          g_autoptr(JsonNode) node = NULL;
          g_autoptr(GError) error = NULL;
          JsonObject *object;

          if (record->sent)
            continue;
          node = json_from_string (record->raw, &error);
          g_assert_no_error (error);
          object = json_node_get_object (node);
          message = _qmp_message_parser_parse (parser, record->raw, strlen (record->raw) - 2, &error);
          g_assert_no_error (error);
          counts[message->kind]++;

          if (json_object_has_member (object, "QMP"))
            {
              g_assert_cmpint (message->kind, ==, QMP_MESSAGE_GREETING);
            }
          else if (json_object_has_member (object, "event"))
            {
              JsonObject *ts = json_object_get_object_member (object, "timestamp");

              g_assert_cmpint (message->kind, ==, QMP_MESSAGE_EVENT);
              g_assert_cmpstr (message->event_name, ==, json_object_get_string_member (object, "event"));
              g_assert_cmpint (message->timestamp_usec, ==,
                               json_object_get_int_member (ts, "seconds") * G_USEC_PER_SEC +
                               json_object_get_int_member (ts, "microseconds"));
              g_assert_true ((message->event_data != NULL) == json_object_has_member (object, "data"));
            }
          else if (json_object_has_member (object, "return"))
            {
              g_assert_cmpint (message->kind, ==, QMP_MESSAGE_RETURN);
              g_assert_true (_qmp_message_id_equal (message->id, json_object_get_member (object, "id")));
              g_assert_true (json_node_equal (message->value, json_object_get_member (object, "return")));
            }
          else
            {
              JsonObject *err = json_object_get_object_member (object, "error");

              g_assert_cmpint (message->kind, ==, QMP_MESSAGE_ERROR);
              g_assert_cmpstr (message->error_class, ==, json_object_get_string_member (err, "class"));
              g_assert_cmpstr (message->error_desc, ==, json_object_get_string_member (err, "desc"));
              if (json_object_has_member (object, "id"))
                g_assert_true (_qmp_message_id_equal (message->id, json_object_get_member (object, "id")));
              else
                g_assert_null (message->id);
            }
        }
    }
  /* The recordings hold all four kinds. */
  for (guint k = 0; k < 4; k++)
    g_assert_cmpuint (counts[k], >, 0);
}

static void
test_member_order (void)
{
  g_autoptr(QmpMessageParser) parser = _qmp_message_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(QmpMessage) a = parse (parser, "{\"id\": 7, \"error\": {\"desc\": \"d\", \"class\": \"C\"}}", &error);
  g_autoptr(QmpMessage) b = parse (parser, "{\"return\": [1], \"id\": \"7\", \"extra\": true}", &error);
  g_autoptr(QmpMessage) c = parse (parser, "{\"data\": {}, \"event\": \"X\"}", &error);

  g_assert_no_error (error);
  g_assert_cmpint (a->kind, ==, QMP_MESSAGE_ERROR);
  g_assert_cmpstr (a->error_class, ==, "C");
  g_assert_cmpint (json_node_get_int (a->id), ==, 7);
  g_assert_cmpint (b->kind, ==, QMP_MESSAGE_RETURN);
  g_assert_cmpstr (json_node_get_string (b->id), ==, "7");
  /* The integer 7 and the string "7" are different ids. */
  g_assert_false (_qmp_message_id_equal (a->id, b->id));
  g_assert_cmpint (c->kind, ==, QMP_MESSAGE_EVENT);
  g_assert_cmpint (c->timestamp_usec, ==, -1);
}

static void
test_id_equal (void)
{
  const char *ids[] = { "7", "\"7\"", "7.5", "null", "true", "[1, 2]", "{\"a\": [1]}", "\"x\"" };

  for (gsize i = 0; i < G_N_ELEMENTS (ids); i++)
    for (gsize j = 0; j < G_N_ELEMENTS (ids); j++)
      {
        g_autoptr(JsonNode) a = json_from_string (ids[i], NULL);
        g_autoptr(JsonNode) b = json_from_string (ids[j], NULL);

        g_assert_cmpint (_qmp_message_id_equal (a, b), ==, i == j);
      }
  g_assert_true (_qmp_message_id_equal (NULL, NULL));
  {
    g_autoptr(JsonNode) a = json_from_string ("{\"a\": [1]}", NULL);
    g_autoptr(JsonNode) b = json_from_string ("{ \"a\" : [ 1 ] }", NULL);
    g_autofree char *text = _qmp_message_id_to_string (a);

    g_assert_true (_qmp_message_id_equal (a, b));
    g_assert_false (_qmp_message_id_equal (a, NULL));
    g_assert_cmpstr (text, ==, "{\"a\":[1]}");
  }
}

static void
test_invalid (void)
{
  const struct {
    const char *text;
    int code;
  } cases[] = {
    { "", QMP_ERROR_PROTOCOL },
    { "   ", QMP_ERROR_PROTOCOL },
    { "[1, 2]", QMP_ERROR_PROTOCOL },
    { "null", QMP_ERROR_PROTOCOL },
    { "42", QMP_ERROR_PROTOCOL },
    { "{}", QMP_ERROR_PROTOCOL },
    { "{\"return\": 1, \"id\":", QMP_ERROR_PROTOCOL },
    { "{\"event\": 5}", QMP_ERROR_PROTOCOL },
    { "{\"event\": \"X\", \"data\": [1]}", QMP_ERROR_PROTOCOL },
    { "{\"event\": \"X\", \"timestamp\": {\"seconds\": \"1\", \"microseconds\": 2}}", QMP_ERROR_PROTOCOL },
    { "{\"event\": \"X\", \"timestamp\": 5}", QMP_ERROR_PROTOCOL },
    { "{\"error\": \"bad\"}", QMP_ERROR_PROTOCOL },
    { "{\"error\": {\"class\": \"GenericError\"}}", QMP_ERROR_PROTOCOL },
    { "{\"error\": {\"desc\": \"d\", \"class\": 3}}", QMP_ERROR_PROTOCOL },
    { "{\"QMP\": {\"capabilities\": []}}", QMP_ERROR_INVALID_GREETING },
    { "{\"QMP\": 1}", QMP_ERROR_INVALID_GREETING },
    { "{\"QMP\": {\"version\": {\"qemu\": {\"major\": -1, \"minor\": 2, \"micro\": 0}}, \"capabilities\": []}}",
      QMP_ERROR_INVALID_GREETING },
    { "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2, \"micro\": 0}}, \"capabilities\": [1]}}",
      QMP_ERROR_INVALID_GREETING },
    { "{\"event\": \"\xff\xfe\"}", QMP_ERROR_PROTOCOL },
    /* Escapes json-glib takes but JSON does not: GScanner's octal (the
     * byte 0x80 here), lone or reversed surrogates, short \u. */
    { "{\"event\": \"X\", \"data\": {\"node-name\": \"\\20000\"}}", QMP_ERROR_PROTOCOL },
    { "{\"event\": \"X\", \"data\": {\"n\": \"\\x41\"}}", QMP_ERROR_PROTOCOL },
    { "{\"event\": \"X\", \"data\": {\"n\": \"\\ud800\"}}", QMP_ERROR_PROTOCOL },
    { "{\"event\": \"X\", \"data\": {\"n\": \"\\udc00\\ud800\"}}", QMP_ERROR_PROTOCOL },
    { "{\"event\": \"X\", \"data\": {\"n\": \"\\ud800\\u0041\"}}", QMP_ERROR_PROTOCOL },
    { "{\"event\": \"X\", \"data\": {\"n\": \"\\u12\"}}", QMP_ERROR_PROTOCOL },
  };
  g_autoptr(QmpMessageParser) parser = _qmp_message_parser_new ();

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(QmpMessage) message = parse (parser, cases[i].text, &error);

      g_test_message ("invalid case %zu", i);
      g_assert_null (message);
      g_assert_error (error, QMP_ERROR, cases[i].code);
    }

  /* A NUL byte is refused, not read as the end of the text. */
  {
    const char text[] = "{\"return\": {}}\0garbage";
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpMessage) message = _qmp_message_parser_parse (parser, text, sizeof text - 1, &error);

    g_assert_null (message);
    g_assert_error (error, QMP_ERROR, QMP_ERROR_PROTOCOL);
  }

  /* The parser is still good afterwards. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpMessage) message = parse (parser, "{\"return\": {}, \"id\": 1}", &error);

    g_assert_no_error (error);
    g_assert_cmpint (message->kind, ==, QMP_MESSAGE_RETURN);
  }
}

/* 1e400 is infinity as a double, which json-glib would write back as
 * `inf`, not JSON (found by fuzz-message). Large but finite numbers and
 * integers past 2^63 (read as doubles) are fine. */
static void
test_number_range (void)
{
  const char *refused[] = {
    "{\"return\": 1e400, \"id\": 1}",
    "{\"return\": [0, {\"a\": -1e400}], \"id\": 1}",
    "{\"event\": \"BLOCK_WRITE_THRESHOLD\", \"data\": {\"write-threshold\": 1e309}}",
    "{\"id\": 1e999, \"error\": {\"class\": \"GenericError\", \"desc\": \"d\"}}",
    /* json-glib would write these back as 1e+114.0 (found by fuzz-message). */
    "{\"event\": \"BLD\", \"data\": {\"eded\": -1e114}, \"timmp\": {\"sosecond\": 1}}",
    "{\"return\": 1e22, \"id\": 1}",
    /* The nearest double, 1e26, would come back as 1e+26.0 too. */
    "{\"return\": 99999999999999999999999999, \"id\": 1}",
  };
  const char *accepted[] = {
    "{\"return\": 1.7976931348623157e308, \"id\": 1}",
    "{\"return\": 18446744073709551615, \"id\": 1}",
    "{\"return\": [-0.0, 1e-400], \"id\": 1}",
    "{\"return\": [1.5e300, -1e-5, 0.1, 12345.678, 1e15], \"id\": 1}",
  };
  g_autoptr(QmpMessageParser) parser = _qmp_message_parser_new ();

  for (gsize i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(QmpMessage) message = parse (parser, refused[i], &error);

      g_assert_null (message);
      g_assert_error (error, QMP_ERROR, QMP_ERROR_PROTOCOL);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (accepted); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(QmpMessage) message = parse (parser, accepted[i], &error);
      g_autofree char *text = NULL;
      g_autoptr(JsonNode) again = NULL;

      g_assert_no_error (error);
      /* What was accepted can be written back as JSON. */
      text = json_to_string (message->root, FALSE);
      again = json_from_string (text, &error);
      g_assert_no_error (error);
      g_assert_nonnull (again);
    }
}

/* Integers are gint64 up to its bounds, doubles past them: json-glib's
 * own parser wrapped 2^63 to -2^63 and 2^64 - 1 to -1. */
static void
test_integer_bounds (void)
{
  const struct {
    const char *text;
    GType type;
    gint64 integer;
    double real;
  } cases[] = {
    { "9223372036854775807", G_TYPE_INT64, G_MAXINT64, 0 },
    { "-9223372036854775808", G_TYPE_INT64, G_MININT64, 0 },
    { "-0", G_TYPE_INT64, 0, 0 },
    { "9223372036854775808", G_TYPE_DOUBLE, 0, 9223372036854775808.0 },
    { "-9223372036854775809", G_TYPE_DOUBLE, 0, -9223372036854775808.0 },
    { "18446744073709551615", G_TYPE_DOUBLE, 0, 18446744073709551615.0 },
    { "184467440737095516150", G_TYPE_DOUBLE, 0, 184467440737095516150.0 },
    { "1.0", G_TYPE_DOUBLE, 0, 1.0 },
    { "-2.5E-3", G_TYPE_DOUBLE, 0, -2.5e-3 },
    { "1e+2", G_TYPE_DOUBLE, 0, 100.0 },
  };
  g_autoptr(QmpMessageParser) parser = _qmp_message_parser_new ();

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = g_strdup_printf ("{\"return\": %s, \"id\": 1}", cases[i].text);
      g_autoptr(GError) error = NULL;
      g_autoptr(QmpMessage) message = parse (parser, text, &error);

      g_test_message ("%s", cases[i].text);
      g_assert_no_error (error);
      g_assert_true (JSON_NODE_HOLDS_VALUE (message->value));
      g_assert_true (json_node_get_value_type (message->value) == cases[i].type);
      if (cases[i].type == G_TYPE_INT64)
        g_assert_cmpint (json_node_get_int (message->value), ==, cases[i].integer);
      else
        g_assert_cmpfloat (json_node_get_double (message->value), ==, cases[i].real);
    }
}

/* Only JSON is read: what json-glib's parser also took (hexadecimal,
 * leading zeros, bare points, single quotes, comments, raw control
 * characters, a second value) is refused with QMP_ERROR_PROTOCOL. */
static void
test_strict_json (void)
{
  const char *refused[] = {
    "0x10",
    "01",
    "-01",
    "1.",
    ".5",
    "+1",
    "-",
    "1e",
    "1e+",
    "NaN",
    "Infinity",
    "'a'",
    "/* c */ 1",
    "\"a\tb\"",
    "\"a\x01\"",
    "\"\\u0000\"",
    "\"\\U0041\"",
    "\"abc",
    "\"abc\\",
    "tru",
    "nul",
    "True",
    "[1,]",
    "[,1]",
    "[1 2]",
    "{\"a\": 1,}",
    "{\"a\" 1}",
    "{a: 1}",
    "{1: 1}",
    "[1] [2]",
    "1 2",
    "[",
    "{\"a\":",
    "\xc3\x28",
  };
  g_autoptr(QmpMessageParser) parser = _qmp_message_parser_new ();

  for (gsize i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autofree char *text = g_strdup_printf ("{\"return\": %s, \"id\": 1}", refused[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(QmpMessage) message = parse (parser, text, &error);
      g_autofree char *shown = g_strescape (refused[i], NULL);

      g_test_message ("refused: %s", shown);
      g_assert_null (message);
      g_assert_error (error, QMP_ERROR, QMP_ERROR_PROTOCOL);
    }

  /* As deep as the framer lets through, and one level deeper. */
  for (guint depth = QMP_STREAM_DEFAULT_MAX_DEPTH - 1; depth <= QMP_STREAM_DEFAULT_MAX_DEPTH; depth++)
    {
      g_autoptr(GString) text = g_string_new ("{\"return\": ");
      g_autoptr(GError) error = NULL;
      g_autoptr(QmpMessage) message = NULL;

      for (guint i = 0; i < depth; i++)
        g_string_append_c (text, '[');
      for (guint i = 0; i < depth; i++)
        g_string_append_c (text, ']');
      g_string_append (text, "}");
      message = parse (parser, text->str, &error);
      if (depth < QMP_STREAM_DEFAULT_MAX_DEPTH)
        g_assert_no_error (error);
      else
        g_assert_error (error, QMP_ERROR, QMP_ERROR_NESTING_TOO_DEEP);
    }
}

/* What JSON allows reads as the same tree json-glib's parser builds. */
static void
test_same_tree (void)
{
  const char *values[] = {
    "[]",
    "{}",
    "[[], {}, [[[]]], {\"a\": {\"b\": {}}}]",
    " \t\r\n[ 1 , -2 ,\t3.25 , -0.5e-3 , 1E3 , 0 , 0.0 ] \t\r\n",
    "[true, false, null, \"\", \"x\"]",
    "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0041\\u00e9\\u20ac\\ud83d\\ude00 \\u001f\"",
    "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
    "{\"\\u0041\\n\": 1, \"b\\\"c\": [\"d\"], \"\": 2}",
    "{\"a\": 1, \"b\": 2, \"a\": 3}",
    "{\"device\": \"\", \"node-name\": \"data-fmt\", \"operation\": \"write\","
    " \"action\": \"stop\", \"nospace\": true, \"reason\": \"No space left on device\"}",
    "[9223372036854775807, -9223372036854775808, 1.7976931348623157e308, 5e-324]",
  };
  g_autoptr(QmpMessageParser) parser = _qmp_message_parser_new ();

  for (gsize i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autofree char *text = g_strdup_printf ("{\"return\": %s, \"id\": 1}", values[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(QmpMessage) message = parse (parser, text, &error);
      g_autoptr(JsonNode) expected = json_from_string (values[i], &error);
      g_autofree char *ours = NULL;
      g_autofree char *theirs = NULL;
      g_autofree char *shown = g_strescape (values[i], NULL);

      g_test_message ("same tree: %s", shown);
      g_assert_no_error (error);
      g_assert_nonnull (message);
      g_assert_true (json_node_equal (message->value, expected));
      /* Member order too, which json_node_equal() does not compare. */
      ours = json_to_string (message->value, FALSE);
      theirs = json_to_string (expected, FALSE);
      g_assert_cmpstr (ours, ==, theirs);
    }
}

/* A timestamp GDateTime cannot hold (past the year 9999) is unknown, as
 * QEMU's -1/-1 is: qmp_event_get_timestamp() could not give it (found by
 * fuzz-message). */
static void
test_timestamp_range (void)
{
  const struct {
    const char *timestamp;
    gint64 usec;
  } cases[] = {
    { "{\"seconds\": 253402300799, \"microseconds\": 999999}", G_GINT64_CONSTANT (253402300799999999) },
    { "{\"seconds\": 253402300800, \"microseconds\": 0}", -1 },
    { "{\"seconds\": 9223372036853, \"microseconds\": 999999}", -1 },
    { "{\"seconds\": 0, \"microseconds\": 1000000}", -1 },
    { "{\"seconds\": -1, \"microseconds\": -1}", -1 },
  };
  g_autoptr(QmpMessageParser) parser = _qmp_message_parser_new ();

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = g_strdup_printf ("{\"event\": \"STOP\", \"timestamp\": %s}",
                                               cases[i].timestamp);
      g_autoptr(GError) error = NULL;
      g_autoptr(QmpMessage) message = parse (parser, text, &error);
      g_autoptr(QmpEvent) event = NULL;

      g_assert_no_error (error);
      g_assert_cmpint (message->timestamp_usec, ==, cases[i].usec);
      event = qmp_event_new (message->event_name, message->timestamp_usec, message->event_data);
      g_assert_true ((qmp_event_get_timestamp (event) != NULL) == (cases[i].usec >= 0));
    }
}

static void
test_greeting_variants (void)
{
  g_autoptr(QmpMessageParser) parser = _qmp_message_parser_new ();
  g_autoptr(GError) error = NULL;
  /* No package, an extra member, and a capability QEMU may add later. */
  g_autoptr(QmpMessage) message =
    parse (parser, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 0, \"major\": 10}, \"extra\": 1},"
                   " \"capabilities\": [\"oob\", \"future\"]}}", &error);

  g_assert_no_error (error);
  g_assert_cmpint (message->kind, ==, QMP_MESSAGE_GREETING);
  g_assert_cmpuint (message->qemu_major, ==, 10);
  g_assert_null (message->qemu_package);
  g_assert_cmpuint (json_array_get_length (message->capabilities), ==, 2);
}

static void
test_build_command (void)
{
  g_autoptr(QmpMessageParser) parser = _qmp_message_parser_new ();
  g_autoptr(JsonObject) arguments = json_object_new ();
  g_autoptr(JsonObject) nested = json_object_new ();
  g_autoptr(JsonNode) parsed = NULL;
  g_autofree char *line = NULL;
  g_autofree char *bare = NULL;
  JsonObject *object;
  gsize length;

  json_object_set_string_member (nested, "driver", "raw");
  json_object_set_int_member (nested, "size", G_GINT64_CONSTANT (8589934592));
  json_object_set_string_member (arguments, "node-name", "disque-é-\"quoted\"\n");
  json_object_set_object_member (arguments, "options", json_object_ref (nested));

  line = _qmp_message_build_command ("blockdev-reopen", arguments, "qmpthin-5", &length);
  g_assert_cmpuint (length, ==, strlen (line));
  g_assert_true (g_str_has_suffix (line, "\n"));
  /* One line: the newline in the argument is escaped. */
  g_assert_null (memchr (line, '\n', length - 1));

  parsed = json_from_string (line, NULL);
  object = json_node_get_object (parsed);
  g_assert_cmpstr (json_object_get_string_member (object, "execute"), ==, "blockdev-reopen");
  g_assert_cmpstr (json_object_get_string_member (object, "id"), ==, "qmpthin-5");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (object, "arguments"),
                                                  "node-name"), ==, "disque-é-\"quoted\"\n");
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (
                     json_object_get_object_member (object, "arguments"), "options"), "size"),
                   ==, G_GINT64_CONSTANT (8589934592));

  bare = _qmp_message_build_command ("query-status", NULL, "qmpthin-6", NULL);
  g_assert_cmpstr (bare, ==, "{\"execute\":\"query-status\",\"id\":\"qmpthin-6\"}\n");

  /* Names and ids are escaped by hand: every kind of character survives. */
  {
    const char *name = "a\"b\\c/\x01\x1f\b\f\n\r\t-é-\xe2\x82\xac";
    g_autofree char *odd = _qmp_message_build_command (name, NULL, "id\"\\", NULL);
    g_autoptr(JsonNode) back = json_from_string (odd, NULL);

    g_assert_nonnull (back);
    g_assert_null (memchr (odd, '\n', strlen (odd) - 1));
    g_assert_cmpstr (json_object_get_string_member (json_node_get_object (back), "execute"), ==, name);
    g_assert_cmpstr (json_object_get_string_member (json_node_get_object (back), "id"), ==, "id\"\\");
  }
}

/* The escapes JSON has are all taken, surrogate pairs included. */
static void
test_escapes (void)
{
  g_autoptr(QmpMessageParser) parser = _qmp_message_parser_new ();
  g_autoptr(GError) error = NULL;
  QmpMessage *message;

  message = _qmp_message_parser_parse (parser,
                                      "{\"return\": \"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\\u20AC\", "
                                      "\"id\": \"qmpthin-1\"}", -1, &error);
  g_assert_no_error (error);
  g_assert_nonnull (message);
  g_assert_cmpstr (json_node_get_string (message->value), ==,
                   "\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80\xe2\x82\xac");
  _qmp_message_free (message);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_data_func ("/qmp/message/greeting/qemu-7.2", &greeting_7_2, test_greeting);
  g_test_add_data_func ("/qmp/message/greeting/qemu-10.0", &greeting_10_0, test_greeting);
  g_test_add_func ("/qmp/message/greeting-variants", test_greeting_variants);
  g_test_add_data_func ("/qmp/message/recorded/qemu-7.2", recorded_7_2, test_recorded);
  g_test_add_data_func ("/qmp/message/recorded/qemu-10.0", recorded_10_0, test_recorded);
  g_test_add_func ("/qmp/message/member-order", test_member_order);
  g_test_add_func ("/qmp/message/id-equal", test_id_equal);
  g_test_add_func ("/qmp/message/invalid", test_invalid);
  g_test_add_func ("/qmp/message/escapes", test_escapes);
  g_test_add_func ("/qmp/message/number-range", test_number_range);
  g_test_add_func ("/qmp/message/integer-bounds", test_integer_bounds);
  g_test_add_func ("/qmp/message/strict-json", test_strict_json);
  g_test_add_func ("/qmp/message/same-tree", test_same_tree);
  g_test_add_func ("/qmp/message/timestamp-range", test_timestamp_range);
  g_test_add_func ("/qmp/message/build-command", test_build_command);

  return g_test_run ();
}
