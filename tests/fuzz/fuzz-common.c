/* fuzz-common.c: what the fuzz targets share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <stdlib.h>

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
