/* fuzz-common.h: what the fuzz targets share
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each target is built twice: as a libFuzzer binary (clang, -Dfuzzing=true)
 * and, with its entry points renamed by the build, into
 * test-fuzz-regressions, which replays the corpus and every reproducer
 * under the ordinary compiler (and valgrind).
 */

#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

G_BEGIN_DECLS

int  LLVMFuzzerInitialize   (int            *argc,
                             char         ***argv);
int  LLVMFuzzerTestOneInput (const uint8_t  *data,
                             size_t          size);

/* Silences the library's warnings and debug messages (hostile input makes
 * plenty), but aborts on a critical: a g_return_if_fail() reached from
 * what the peer sent is a bug. FUZZ_VERBOSE=1 prints everything. */
void fuzz_setup_logging     (void);

/* Reads every readable property of @object (a GObject): every
 * get_property branch and lazily computed value runs, and every string
 * must be UTF-8. */
void fuzz_read_all_properties (gpointer object);

G_END_DECLS
