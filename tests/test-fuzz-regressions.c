/* test-fuzz-regressions.c: the fuzz targets' inputs, replayed
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Runs every reproducer of tests/fuzz/regressions/<target>/ and every seed
 * of tests/fuzz/corpus/<target>/ once through the target's own code
 * (tests/fuzz/fuzz-<target>.c, its entry points renamed by the build),
 * built with the ordinary compiler: a reproducer stays a test in every CI
 * run and under valgrind, not only in a clang build. A target fails by
 * aborting, as it does under libFuzzer.
 */

#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "qmp-stream.h"
#include "fuzz/fuzz-common.h"

/* The targets, as tests/meson.build renames them. */
int fuzz_stream_initialize       (int *argc, char ***argv);
int fuzz_stream_test_one_input   (const uint8_t *data, size_t size);
int fuzz_message_initialize      (int *argc, char ***argv);
int fuzz_message_test_one_input  (const uint8_t *data, size_t size);
int fuzz_client_initialize       (int *argc, char ***argv);
int fuzz_client_test_one_input   (const uint8_t *data, size_t size);

typedef struct {
  const char *name;
  int (*initialize) (int *argc, char ***argv);
  int (*test_one_input) (const uint8_t *data, size_t size);
} Target;

static const Target targets[] = {
  { "fuzz-stream", fuzz_stream_initialize, fuzz_stream_test_one_input },
  { "fuzz-message", fuzz_message_initialize, fuzz_message_test_one_input },
  { "fuzz-client", fuzz_client_initialize, fuzz_client_test_one_input },
};

typedef struct {
  const Target *target;
  char *path;
} Input;

static void
input_free (gpointer data)
{
  Input *input = data;

  g_free (input->path);
  g_free (input);
}

static void
test_input (gconstpointer data)
{
  const Input *input = data;
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  gsize length;

  g_assert_true (g_file_get_contents (input->path, &contents, &length, &error));
  g_assert_no_error (error);
  g_assert_cmpint (input->target->test_one_input ((const uint8_t *) contents, length), ==, 0);
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return g_strcmp0 (*(const char * const *) a, *(const char * const *) b);
}

/* Adds one test per file of tests/fuzz/<kind>/<target>/, in name order. */
static guint
add_inputs (const Target *target,
            const char   *kind)
{
  g_autofree char *dir_path = g_test_build_filename (G_TEST_DIST, "fuzz", kind, target->name, NULL);
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (dir == NULL)
    return 0;
  while ((name = g_dir_read_name (dir)) != NULL)
    if (name[0] != '.')
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);

  for (guint i = 0; i < names->len; i++)
    {
      Input *input = g_new0 (Input, 1);
      g_autofree char *test_path = NULL;

      input->target = target;
      input->path = g_build_filename (dir_path, names->pdata[i], NULL);
      test_path = g_strdup_printf ("/fuzz/%s/%s/%s", target->name, kind,
                                   (const char *) names->pdata[i]);
      g_test_add_data_func_full (test_path, input, test_input, input_free);
    }
  return names->len;
}

/* ------------------------------------------------------------------------ */
/* Findings not fixed yet, in code this change does not touch. Each reports
 * "incomplete" (TAP TODO) while the bug is there and fails once it is
 * fixed, so that the marker and the fuzz target's exemption go. */

static gboolean
collect_line (const char *line,
              gsize       length,
              gpointer    user_data)
{
  g_ptr_array_add (user_data, g_strndup (line, length));
  return TRUE;
}

/* tests/fuzz/regressions/fuzz-stream/escaped-lf-in-string: an LF ends the
 * line even inside a string and right after a backslash (JSON has no raw
 * LF there); scan() used to take it for an escaped character and run the
 * line on into the next one. */
static void
test_escaped_lf (void)
{
  static const char input[] = "{\"a\": \"x\\\n\"}\n{}\n";
  g_autoptr(QmpStream) stream = _qmp_stream_new (1024);
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;

  g_assert_true (_qmp_stream_feed (stream, input, sizeof input - 1, collect_line, lines, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (lines->len, ==, 3);
  g_assert_cmpstr (lines->pdata[0], ==, "{\"a\": \"x\\");
  g_assert_cmpstr (lines->pdata[1], ==, "\"}");
  g_assert_cmpstr (lines->pdata[2], ==, "{}");
}

int
main (int    argc,
      char **argv)
{
  guint n_seeds = 0;

  g_test_init (&argc, &argv, NULL);
  /* The client warns about what a hostile peer sends (unknown ids, …):
   * expected here. Criticals still abort, from the targets' log writer. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  fuzz_setup_logging ();

  for (gsize i = 0; i < G_N_ELEMENTS (targets); i++)
    {
      targets[i].initialize (&argc, &argv);
      add_inputs (&targets[i], "regressions");
      n_seeds += add_inputs (&targets[i], "corpus");
    }
  g_test_add_func ("/fuzz/stream-escaped-lf", test_escaped_lf);

  /* An empty corpus means the test data did not ship: say so. */
  g_assert_cmpuint (n_seeds, >, 0);

  return g_test_run ();
}
