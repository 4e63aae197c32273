/* fuzz-common.c: what the fuzz targets share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <stdlib.h>

#include <glib-object.h>

#include "fuzz-common.h"

static GLogWriterOutput
fuzz_log_writer (GLogLevelFlags   log_level,
                 const GLogField *fields,
                 gsize            n_fields,
                 gpointer         user_data)
{
  gboolean verbose = GPOINTER_TO_INT (user_data);

  if (log_level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
    {
      g_log_writer_standard_streams (log_level, fields, n_fields, NULL);
      abort ();
    }
  if (verbose)
    return g_log_writer_standard_streams (log_level, fields, n_fields, NULL);
  return G_LOG_WRITER_HANDLED;
}

void
fuzz_setup_logging (void)
{
  static gsize once = 0;

  if (g_once_init_enter (&once))
    {
      gboolean verbose = g_strcmp0 (g_getenv ("FUZZ_VERBOSE"), "1") == 0;

      g_log_set_writer_func (fuzz_log_writer, GINT_TO_POINTER (verbose), NULL);
      g_once_init_leave (&once, 1);
    }
}

/* Reads every readable property: that runs every get_property branch and
 * every lazily computed value (the event's GDateTime). */
void
fuzz_read_all_properties (gpointer object)
{
  g_autofree GParamSpec **pspecs = NULL;
  guint n_pspecs;

  pspecs = g_object_class_list_properties (G_OBJECT_GET_CLASS (object), &n_pspecs);
  for (guint i = 0; i < n_pspecs; i++)
    {
      g_auto(GValue) value = G_VALUE_INIT;

      if (!(pspecs[i]->flags & G_PARAM_READABLE))
        continue;
      g_value_init (&value, pspecs[i]->value_type);
      g_object_get_property (object, pspecs[i]->name, &value);
      if (G_VALUE_HOLDS_STRING (&value) && g_value_get_string (&value) != NULL)
        g_assert_true (g_utf8_validate (g_value_get_string (&value), -1, NULL));
    }
}
