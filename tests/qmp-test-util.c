/* qmp-test-util.c: helpers shared by the tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "qmp-test-util.h"

static void
record_free (QmpTestRecord *record)
{
  g_free (record->raw);
  g_free (record);
}

GPtrArray *
qmp_test_load_transcript (const char *name)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", name, NULL);
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;
  GPtrArray *records = g_ptr_array_new_with_free_func ((GDestroyNotify) record_free);

  g_assert_true (g_file_get_contents (path, &contents, NULL, &error));
  g_assert_no_error (error);
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(JsonNode) node = NULL;
      JsonObject *object;
      QmpTestRecord *record;

      if (lines[i][0] == '\0')
        continue;
      node = json_from_string (lines[i], &error);
      g_assert_no_error (error);
      object = json_node_get_object (node);
      if (!json_object_has_member (object, "raw"))
        continue;
      record = g_new0 (QmpTestRecord, 1);
      record->sent = g_str_equal (json_object_get_string_member (object, "dir"), "sent");
      record->raw = g_strdup (json_object_get_string_member (object, "raw"));
      g_ptr_array_add (records, record);
    }
  return records;
}

GString *
qmp_test_transcript_received (GPtrArray *records)
{
  GString *bytes = g_string_new (NULL);

  for (guint i = 0; i < records->len; i++)
    {
      QmpTestRecord *record = records->pdata[i];

      if (!record->sent)
        g_string_append (bytes, record->raw);
    }
  return bytes;
}

void
qmp_test_store_result (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static gboolean
on_guard_expired (gpointer user_data)
{
  ((QmpTestGuard *) user_data)->expired = TRUE;
  return G_SOURCE_REMOVE;
}

void
qmp_test_guard_begin (QmpTestGuard *guard,
                      guint         timeout_ms)
{
  guard->expired = FALSE;
  guard->source = g_timeout_source_new (timeout_ms);
  g_source_set_callback (guard->source, on_guard_expired, guard, NULL);
  g_source_attach (guard->source, NULL);
}

void
qmp_test_guard_end (QmpTestGuard *guard)
{
  g_source_destroy (guard->source);
  g_clear_pointer (&guard->source, g_source_unref);
}

GAsyncResult *
qmp_test_wait_result (GAsyncResult **slot,
                      guint          timeout_ms)
{
  QMP_TEST_WAIT_FOR (*slot != NULL, timeout_ms);
  return *slot;
}
