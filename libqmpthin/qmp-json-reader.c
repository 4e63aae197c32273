/* qmp-json-reader.c: a strict JSON reader building json-glib trees
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every line QEMU sends is read here, so this is where a client spends
 * most of its time under an event storm. json-glib's own parser runs the
 * text through a general-purpose GScanner token by token and was two
 * thirds of the cost of an event; it is also more lenient than JSON
 * (GScanner's octal escapes, lone UTF-16 surrogates, a second value after
 * the first), which took a pass of our own before it and a walk of the
 * tree after it; and it wraps integers past a gint64 round (2^64 - 1 came
 * back as -1). This reader makes one pass over the bytes and builds the
 * tree json-glib would, for RFC 8259 JSON only:
 *
 * - the text is UTF-8 with no NUL byte; a string holds no raw control
 *   character and no \u0000 (C strings end there), and its escapes are
 *   JSON's, with UTF-16 surrogates only in pairs;
 * - a number without fraction or exponent that fits in a gint64 is an
 *   integer, any other number a double, refused when json-glib could not
 *   write it back as JSON (see double_writes_back());
 * - one value, with only whitespace around it;
 * - arrays and objects nest at most max_depth deep (the reader recurses);
 * - a member name given twice keeps the last value, at the first one's
 *   place, as json_object_set_member() does.
 *
 * Nodes are left mutable: what the library hands out is sealed on the way.
 */

#include <math.h>
#include <string.h>

#include <qmpthin/qmp-errors.h>

#include "qmp-json-reader.h"

struct _QmpJsonReader
{
  guint max_depth;
  /* Decoded strings and member names, reused for every one of them. */
  GString *scratch;
};

/* The state of one read. */
typedef struct
{
  QmpJsonReader *reader;
  const char *start;
  const char *p;
  const char *end;
  guint depth;
  GError **error;
} Cursor;

QmpJsonReader *
_qmp_json_reader_new (guint max_depth)
{
  QmpJsonReader *reader = g_new0 (QmpJsonReader, 1);

  reader->max_depth = max_depth;
  reader->scratch = g_string_sized_new (256);
  return reader;
}

void
_qmp_json_reader_free (QmpJsonReader *reader)
{
  if (reader == NULL)
    return;
  g_string_free (reader->scratch, TRUE);
  g_free (reader);
}

/* What is wrong at @at, a place in the text. */
static JsonNode *
fail_at (Cursor     *cursor,
         const char *at,
         const char *what)
{
  g_set_error (cursor->error, QMP_ERROR, QMP_ERROR_PROTOCOL,
               "Malformed JSON from the QMP server: %s at byte %" G_GSIZE_FORMAT,
               what, (gsize) (at - cursor->start));
  return NULL;
}

static JsonNode *
fail (Cursor     *cursor,
      const char *what)
{
  return fail_at (cursor, cursor->p, what);
}

static JsonNode *
fail_literal (Cursor     *cursor,
              const char *message)
{
  g_set_error_literal (cursor->error, QMP_ERROR, QMP_ERROR_PROTOCOL, message);
  return NULL;
}

/* Moves past @c when it comes next. */
static inline gboolean
accept (Cursor *cursor,
        char    c)
{
  if (cursor->p == cursor->end || *cursor->p != c)
    return FALSE;
  cursor->p++;
  return TRUE;
}

static inline void
skip_whitespace (Cursor *cursor)
{
  const char *p = cursor->p;

  while (p < cursor->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
    p++;
  cursor->p = p;
}

static int
hex4 (const char *p)
{
  int value = 0;

  for (int i = 0; i < 4; i++)
    {
      int digit = g_ascii_xdigit_value (p[i]);

      if (digit < 0)
        return -1;
      value = value * 16 + digit;
    }
  return value;
}

/* Reads the \u escape at p (its backslash), and the low half that must
 * follow a high surrogate. Returns the character, and where the escape
 * ends in *next; or 0 when it is not one JSON allows. */
static gunichar
read_unicode_escape (const char  *p,
                     const char  *end,
                     const char **next)
{
  int unit, low;

  if (end - p < 6 || (unit = hex4 (p + 2)) < 0 || unit == 0 ||
      (unit >= 0xdc00 && unit <= 0xdfff))
    return 0;
  if (unit < 0xd800 || unit > 0xdbff)
    {
      *next = p + 6;
      return unit;
    }
  if (end - p < 12 || p[6] != '\\' || p[7] != 'u' ||
      (low = hex4 (p + 8)) < 0xdc00 || low > 0xdfff)
    return 0;
  *next = p + 12;
  return 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
}

/* Checks the string whose opening quote is at the cursor and moves past its
 * closing one. Its content is [*content, *content + *length), with escapes
 * still in it when *escaped. */
static gboolean
scan_string (Cursor      *cursor,
             const char **content,
             gsize       *length,
             gboolean    *escaped)
{
  const char *p = cursor->p + 1;
  const char *end = cursor->end;

  *content = p;
  *escaped = FALSE;
  for (;;)
    {
      guchar c;

      /* The common case: a run of plain characters. */
      while (p < end && (guchar) *p >= 0x20 && *p != '"' && *p != '\\')
        p++;
      if (p == end)
        {
          fail (cursor, "unterminated string");
          return FALSE;
        }
      c = *p;
      if (c == '"')
        break;
      if (c != '\\')
        {
          fail_at (cursor, p, "control character in a string");
          return FALSE;
        }

      *escaped = TRUE;
      if (p + 1 == end)
        {
          fail_at (cursor, p, "unterminated string");
          return FALSE;
        }
      switch (p[1])
        {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
          p += 2;
          break;
        case 'u':
          if (read_unicode_escape (p, end, &p) == 0)
            {
              fail_literal (cursor, "QMP message has an escape sequence JSON does not allow"
                            " (a lone UTF-16 surrogate or \\u0000)");
              return FALSE;
            }
          break;
        default:
          fail_literal (cursor, "QMP message has an escape sequence JSON does not allow");
          return FALSE;
        }
    }
  *length = p - *content;
  cursor->p = p + 1;
  return TRUE;
}

/* The string scan_string() found, decoded into the scratch buffer. */
static const char *
decode_string (Cursor     *cursor,
               const char *content,
               gsize       length,
               gboolean    escaped)
{
  GString *out = cursor->reader->scratch;
  const char *end = content + length;
  const char *p = content;

  g_string_truncate (out, 0);
  if (!escaped)
    return g_string_append_len (out, content, length)->str;

  while (p < end)
    {
      const char *backslash = memchr (p, '\\', end - p);

      if (backslash == NULL)
        {
          g_string_append_len (out, p, end - p);
          break;
        }
      g_string_append_len (out, p, backslash - p);
      switch (backslash[1])
        {
        case 'b':
          g_string_append_c (out, '\b');
          break;
        case 'f':
          g_string_append_c (out, '\f');
          break;
        case 'n':
          g_string_append_c (out, '\n');
          break;
        case 'r':
          g_string_append_c (out, '\r');
          break;
        case 't':
          g_string_append_c (out, '\t');
          break;
        case 'u':
          /* Checked by scan_string(). */
          g_string_append_unichar (out, read_unicode_escape (backslash, end, &p));
          continue;
        default:                /* '"', '\\' and '/' stand for themselves */
          g_string_append_c (out, backslash[1]);
          break;
        }
      p = backslash + 2;
    }
  return out->str;
}

/* Whether json-glib writes @value back as JSON. It would write a number too
 * large for a double (1e400), read as infinity, as `inf`; and it writes a
 * double with "%.17g", adding ".0" when there is no point, so 1e114 would
 * come out as `1e+114.0`. Neither is JSON: such a message could not be
 * logged, traced or sent back (qmp_event_to_string(), command arguments,
 * the Python overrides) as valid JSON. QEMU sends neither. */
static gboolean
double_writes_back (double value)
{
  char text[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (value))
    return FALSE;
  g_ascii_formatd (text, sizeof text, "%.17g", value);
  return strchr (text, '.') != NULL || strpbrk (text, "eE") == NULL;
}

static inline gboolean
is_digit (const char *p,
          const char *end)
{
  return p < end && *p >= '0' && *p <= '9';
}

static JsonNode *
read_number (Cursor *cursor)
{
  const char *start = cursor->p;
  const char *p = start;
  const char *end = cursor->end;
  gboolean negative = FALSE, integral = TRUE, overflow = FALSE;
  guint64 magnitude = 0;
  char buffer[64];
  g_autofree char *long_number = NULL;
  const char *text;
  double value;

  if (*p == '-')
    {
      negative = TRUE;
      p++;
    }
  if (!is_digit (p, end))
    return fail_at (cursor, p, "a number without digits");
  if (*p == '0')
    {
      p++;
      if (is_digit (p, end))
        return fail_at (cursor, p, "a number with a leading zero");
    }
  else
    for (; is_digit (p, end); p++)
      {
        guint digit = *p - '0';

        if (magnitude > (G_MAXUINT64 - digit) / 10)
          overflow = TRUE;
        magnitude = magnitude * 10 + digit;
      }

  if (p < end && *p == '.')
    {
      integral = FALSE;
      if (!is_digit (++p, end))
        return fail_at (cursor, p, "a number with no digit after its point");
      while (is_digit (p, end))
        p++;
    }
  if (p < end && (*p == 'e' || *p == 'E'))
    {
      integral = FALSE;
      p++;
      if (p < end && (*p == '+' || *p == '-'))
        p++;
      if (!is_digit (p, end))
        return fail_at (cursor, p, "a number with no digit in its exponent");
      while (is_digit (p, end))
        p++;
    }
  cursor->p = p;

  if (integral && !overflow && magnitude <= (guint64) G_MAXINT64 + negative)
    {
      gint64 integer;

      if (!negative)
        integer = magnitude;
      else if (magnitude == (guint64) G_MAXINT64 + 1)
        integer = G_MININT64;
      else
        integer = -(gint64) magnitude;
      return json_node_init_int (json_node_alloc (), integer);
    }

  /* Past a gint64, or not an integer: a double, as json-glib reads it. */
  if ((gsize) (p - start) < sizeof buffer)
    {
      memcpy (buffer, start, p - start);
      buffer[p - start] = '\0';
      text = buffer;
    }
  else
    text = long_number = g_strndup (start, p - start);
  value = g_ascii_strtod (text, NULL);
  if (!double_writes_back (value))
    return fail_literal (cursor, "QMP message has a number that cannot be written back as JSON"
                         " (too large for a double, or exponent-only like 1e114)");
  return json_node_init_double (json_node_alloc (), value);
}

static JsonNode *
read_literal (Cursor     *cursor,
              const char *word,
              gsize       length)
{
  if ((gsize) (cursor->end - cursor->p) < length || memcmp (cursor->p, word, length) != 0)
    return fail (cursor, "an unknown word (not true, false or null)");
  cursor->p += length;
  switch (word[0])
    {
    case 't':
      return json_node_init_boolean (json_node_alloc (), TRUE);
    case 'f':
      return json_node_init_boolean (json_node_alloc (), FALSE);
    default:
      return json_node_init_null (json_node_alloc ());
    }
}

static JsonNode *read_value (Cursor *cursor);

static gboolean
enter (Cursor *cursor)
{
  if (++cursor->depth <= cursor->reader->max_depth)
    return TRUE;
  g_set_error (cursor->error, QMP_ERROR, QMP_ERROR_NESTING_TOO_DEEP,
               "Message nests arrays and objects deeper than %u levels",
               cursor->reader->max_depth);
  return FALSE;
}

static JsonNode *
read_object (Cursor *cursor)
{
  g_autoptr(JsonObject) object = NULL;

  if (!enter (cursor))
    return NULL;
  object = json_object_new ();
  cursor->p++;
  skip_whitespace (cursor);
  if (!accept (cursor, '}'))
    for (;;)
      {
        const char *name;
        gsize name_length;
        gboolean escaped;
        JsonNode *value;

        if (cursor->p == cursor->end || *cursor->p != '"')
          return fail (cursor, "expected a member name");
        if (!scan_string (cursor, &name, &name_length, &escaped))
          return NULL;
        skip_whitespace (cursor);
        if (!accept (cursor, ':'))
          return fail (cursor, "expected ':' after a member name");
        skip_whitespace (cursor);
        if ((value = read_value (cursor)) == NULL)
          return NULL;
        /* Decoded only now: the value used the scratch buffer too. */
        json_object_set_member (object, decode_string (cursor, name, name_length, escaped), value);

        skip_whitespace (cursor);
        if (accept (cursor, '}'))
          break;
        if (!accept (cursor, ','))
          return fail (cursor, "expected ',' or '}' in an object");
        skip_whitespace (cursor);
      }
  cursor->depth--;
  return json_node_init_object (json_node_alloc (), object);
}

static JsonNode *
read_array (Cursor *cursor)
{
  g_autoptr(JsonArray) array = NULL;

  if (!enter (cursor))
    return NULL;
  array = json_array_new ();
  cursor->p++;
  skip_whitespace (cursor);
  if (!accept (cursor, ']'))
    for (;;)
      {
        JsonNode *element = read_value (cursor);

        if (element == NULL)
          return NULL;
        json_array_add_element (array, element);
        skip_whitespace (cursor);
        if (accept (cursor, ']'))
          break;
        if (!accept (cursor, ','))
          return fail (cursor, "expected ',' or ']' in an array");
        skip_whitespace (cursor);
      }
  cursor->depth--;
  return json_node_init_array (json_node_alloc (), array);
}

static JsonNode *
read_value (Cursor *cursor)
{
  const char *content;
  gsize length;
  gboolean escaped;

  if (cursor->p == cursor->end)
    return fail (cursor, "the text ends where a value should be");
  switch (*cursor->p)
    {
    case '{':
      return read_object (cursor);
    case '[':
      return read_array (cursor);
    case '"':
      if (!scan_string (cursor, &content, &length, &escaped))
        return NULL;
      return json_node_init_string (json_node_alloc (),
                                    decode_string (cursor, content, length, escaped));
    case 't':
      return read_literal (cursor, "true", 4);
    case 'f':
      return read_literal (cursor, "false", 5);
    case 'n':
      return read_literal (cursor, "null", 4);
    case '-':
    case '0' ... '9':
      return read_number (cursor);
    default:
      return fail (cursor, "expected a value");
    }
}

/**
 * _qmp_json_reader_read:
 * @reader: a reader
 * @text: one JSON text (need not be NUL-terminated)
 * @length: bytes in @text
 * @error: return location for a %QMP_ERROR
 *
 * Reads one JSON value, with nothing but whitespace around it.
 *
 * Returns: (transfer full): the value's tree, its nodes mutable; or %NULL
 *   with @error set (%QMP_ERROR_PROTOCOL, or %QMP_ERROR_NESTING_TOO_DEEP)
 */
JsonNode *
_qmp_json_reader_read (QmpJsonReader  *reader,
                       const char     *text,
                       gsize           length,
                       GError        **error)
{
  Cursor cursor = { reader, text, text, text + length, 0, error };
  JsonNode *root;

  g_return_val_if_fail (reader != NULL, NULL);
  g_return_val_if_fail (text != NULL || length == 0, NULL);

  /* Checked first, so that the error says what is wrong with the text
   * rather than where parsing it stopped. g_utf8_validate_len() refuses
   * a NUL byte too: which of the two it was is worth a look only then. */
  if (!g_utf8_validate_len (text, length, NULL))
    return fail_literal (&cursor, memchr (text, '\0', length) != NULL ?
                         "QMP message contains a NUL byte" : "QMP message is not valid UTF-8");

  skip_whitespace (&cursor);
  if (cursor.p == cursor.end)
    return fail_literal (&cursor, "Empty JSON text from the QMP server");
  root = read_value (&cursor);
  if (root == NULL)
    return NULL;
  skip_whitespace (&cursor);
  if (cursor.p != cursor.end)
    {
      json_node_unref (root);
      return fail (&cursor, "more than one JSON value");
    }
  return root;
}
