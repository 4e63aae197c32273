/* bench-resync.c: how long connecting takes against a real QEMU, resync
 * included, with 1 and with 16 disks
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each QEMU is a paused (prelaunch) TCG machine with N virtio disks on
 * null-co nodes, and a write threshold armed on every disk: the resync
 * asks query-status (with qmp_capabilities), query-block and
 * query-named-block-nodes. One query-status round trip on the same
 * connection gives the scale. Prints medians over the rounds and the
 * ratios, all measured in this run.
 *
 *   bench-resync [--rounds N]
 */

#include <stdlib.h>

#include <qmpthin/qmpthin.h>

#include "qemu-rig.h"

typedef struct {
  double connect_ms;            /* connect_sync: open, greeting, negotiation, resync */
  double query_ms;              /* one query-status round trip */
} Sample;

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

static double
median (double *values,
        guint   n)
{
  qsort (values, n, sizeof (double), (int (*) (const void *, const void *)) compare_doubles);
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

static QmpTestQemu *
start_qemu (guint n_disks)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func (g_free);

  g_ptr_array_add (args, g_strdup ("-machine"));
  g_ptr_array_add (args, g_strdup ("pc,accel=tcg"));
  g_ptr_array_add (args, g_strdup ("-S"));
  for (guint i = 0; i < n_disks; i++)
    {
      g_ptr_array_add (args, g_strdup ("-blockdev"));
      g_ptr_array_add (args, g_strdup_printf ("driver=null-co,node-name=disk%u,size=1073741824", i));
      g_ptr_array_add (args, g_strdup ("-device"));
      g_ptr_array_add (args, g_strdup_printf ("virtio-blk-pci,drive=disk%u,id=vd%u,werror=enospc", i, i));
    }
  g_ptr_array_add (args, NULL);
  return qmp_test_qemu_start ((const char * const *) args->pdata);
}

static void
measure (guint   n_disks,
         guint   rounds,
         double *connect_median,
         double *query_median)
{
  g_autoptr(QmpTestQemu) qemu = start_qemu (n_disks);
  g_autofree double *connects = g_new (double, rounds);
  g_autofree double *queries = g_new (double, rounds);
  g_autoptr(GError) error = NULL;

  /* Armed once, through a first client: QEMU keeps them. */
  {
    g_autoptr(QmpClient) client = qmp_client_new (qmp_test_qemu_get_address (qemu));

    if (!qmp_client_connect_sync (client, NULL, &error))
      g_error ("connect: %s", error->message);
    for (guint i = 0; i < n_disks; i++)
      {
        g_autofree char *node = g_strdup_printf ("disk%u", i);

        if (!qmp_client_set_write_threshold_sync (client, node, 512 * 1024 * 1024, NULL, &error))
          g_error ("block-set-write-threshold: %s", error->message);
      }
    qmp_client_close_sync (client, NULL, NULL);
  }

  for (guint r = 0; r < rounds; r++)
    {
      g_autoptr(QmpClient) client = qmp_client_new (qmp_test_qemu_get_address (qemu));
      g_autoptr(QmpStatusInfo) status = NULL;
      gint64 start;

      /* A restarted agent that persisted its thresholds. */
      for (guint i = 0; i < n_disks; i++)
        {
          g_autofree char *node = g_strdup_printf ("disk%u", i);

          qmp_client_declare_write_threshold (client, node, 512 * 1024 * 1024);
        }
      start = g_get_monotonic_time ();
      if (!qmp_client_connect_sync (client, NULL, &error))
        g_error ("connect: %s", error->message);
      connects[r] = (g_get_monotonic_time () - start) / 1e3;
      g_assert_cmpint (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (client)), ==,
                       QMP_STOP_KIND_PRELAUNCH);

      start = g_get_monotonic_time ();
      status = qmp_client_query_status_sync (client, NULL, &error);
      if (status == NULL)
        g_error ("query-status: %s", error->message);
      queries[r] = (g_get_monotonic_time () - start) / 1e3;
      qmp_client_close_sync (client, NULL, NULL);
    }
  *connect_median = median (connects, rounds);
  *query_median = median (queries, rounds);
}

int
main (int    argc,
      char **argv)
{
  int rounds = 50;
  GOptionEntry entries[] = {
    { "rounds", 'r', 0, G_OPTION_ARG_INT, &rounds, "Connections per QEMU (default 50)", "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- time connect + resync against QEMU");
  g_autoptr(GError) error = NULL;
  const guint disks[] = { 1, 16 };
  double connect_ms[G_N_ELEMENTS (disks)], query_ms[G_N_ELEMENTS (disks)];

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || rounds < 1)
    {
      g_printerr ("bench-resync: %s\n", error ? error->message : "--rounds must be at least 1");
      return 2;
    }
  /* The rig reports through the test framework. */
  g_test_init (&argc, &argv, NULL);
  if (!qmp_test_qemu_require ())
    {
      g_printerr ("bench-resync: QEMU is not installed\n");
      return 77;
    }

  for (guint i = 0; i < G_N_ELEMENTS (disks); i++)
    {
      measure (disks[i], (guint) rounds, &connect_ms[i], &query_ms[i]);
      g_print ("%2u disk%s: connect + resync %.2f ms (median of %d), one query-status %.3f ms, "
               "resync / round trip %.1fx\n",
               disks[i], disks[i] == 1 ? " " : "s", connect_ms[i], rounds, query_ms[i],
               connect_ms[i] / query_ms[i]);
    }
  g_print ("16 disks / 1 disk: %.2fx\n", connect_ms[1] / connect_ms[0]);
  return 0;
}
