/* test-graph.c: the block graph as QmpThinMonitor follows it, on QEMU's own readings
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * tests/data/graph-*.json (QEMU 7.2) and tests/data/qemu-10.0/graph-*.json
 * are x-debug-query-block-graph replies of one VM whose guest device
 * (virtio-blk, -blockdev) has the thin disk data-fmt (qcow2) on data-lim
 * (raw, size=) on data-file:
 *
 *   snapshot   after blockdev-snapshot of data-fmt with snap-fmt (same stack)
 *   commit     during an active block-commit (job c1) of snap-fmt into
 *              data-fmt, ready, under its commit_top filter
 *   committed  after job-complete and blockdev-del of snap-fmt
 *   mirror     during blockdev-mirror (job m1) of data-fmt to mir-fmt
 *
 * Plus qmp_thin_estimate_maximum_size() against `qemu-img measure`.
 */

#include <qmpthin/qmpthin.h>

#include "qmp-thin-graph-private.h"

#define DEVICE "/machine/peripheral/datadisk/virtio-backend"
#define MiB (G_GUINT64_CONSTANT (1024) * 1024)

static QmpThinGraph *
load (const char *version,
      const char *name)
{
  g_autofree char *file = g_strdup_printf ("graph-%s.json", name);
  g_autofree char *path = version != NULL ? g_test_build_filename (G_TEST_DIST, "data", version, file, NULL)
                                          : g_test_build_filename (G_TEST_DIST, "data", file, NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *reply;
  QmpThinGraph *graph;

  g_assert_true (json_parser_load_from_file (parser, path, &error));
  g_assert_no_error (error);
  reply = json_node_get_object (json_parser_get_root (parser));
  graph = _qmp_thin_graph_new (json_object_get_member (reply, "return"), &error);
  g_assert_no_error (error);
  g_assert_nonnull (graph);
  return graph;
}

static gboolean
contains (GPtrArray  *names,
          const char *name)
{
  for (guint i = 0; i < names->len; i++)
    if (g_str_equal (names->pdata[i], name))
      return TRUE;
  return FALSE;
}

/* After a snapshot the device writes the overlay: the consumer's node,
 * now read-only under it, sits in the overlay's chain, and the storage at
 * its depth under the active layer is the overlay's. */
static void
test_snapshot (gconstpointer data)
{
  g_autoptr(QmpThinGraph) graph = load (data, "snapshot");
  g_auto(QmpThinPlace) place = { 0, };
  g_autofree char *top = NULL;
  g_autofree char *storage = NULL;
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(GPtrArray) jobs = NULL;
  g_autoptr(GPtrArray) targets = NULL;

  g_assert_true (_qmp_thin_graph_locate (graph, "data-file", &place));
  g_assert_cmpstr (place.device, ==, DEVICE);
  g_assert_cmpstr (place.top, ==, "snap-fmt");
  g_assert_cmpuint (place.depth, ==, 2);
  storage = _qmp_thin_graph_follow (graph, &place, &top);
  g_assert_cmpstr (storage, ==, "snap-file");
  g_assert_cmpstr (top, ==, "snap-fmt");

  /* The node under the raw one: depth 1. */
  g_assert_true (_qmp_thin_graph_locate (graph, "data-lim", &place));
  g_assert_cmpuint (place.depth, ==, 1);
  g_clear_pointer (&storage, g_free);
  storage = _qmp_thin_graph_follow (graph, &place, NULL);
  g_assert_cmpstr (storage, ==, "snap-lim");

  names = _qmp_thin_graph_names_above (graph, "snap-file");
  g_assert_true (contains (names, "snap-lim"));
  g_assert_true (contains (names, "snap-fmt"));
  g_assert_true (contains (names, DEVICE));
  /* Not the layer under the overlay: that is another node's. */
  g_assert_false (contains (names, "data-fmt"));

  targets = _qmp_thin_graph_targets (graph, "snap-fmt", 2, &jobs);
  g_assert_cmpuint (targets->len, ==, 0);
  g_assert_cmpuint (jobs->len, ==, 0);

  g_assert_false (_qmp_thin_graph_locate (graph, "nosuch", &place));
}

/* An active commit: the device's root is the job's filter, the active
 * layer under it, and the base's storage is what the job writes. */
static void
test_commit (gconstpointer data)
{
  g_autoptr(QmpThinGraph) graph = load (data, "commit");
  g_auto(QmpThinPlace) place = { 0, };
  g_autofree char *top = NULL;
  g_autofree char *storage = NULL;
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(GPtrArray) jobs = NULL;
  g_autoptr(GPtrArray) targets = NULL;

  g_assert_true (_qmp_thin_graph_locate (graph, "snap-file", &place));
  g_assert_cmpstr (place.device, ==, DEVICE);
  g_assert_cmpstr (place.top, ==, "snap-fmt");
  storage = _qmp_thin_graph_follow (graph, &place, &top);
  g_assert_cmpstr (storage, ==, "snap-file");
  g_assert_cmpstr (top, ==, "snap-fmt");

  targets = _qmp_thin_graph_targets (graph, "snap-fmt", 2, &jobs);
  g_assert_cmpuint (targets->len, ==, 1);
  g_assert_cmpstr (targets->pdata[0], ==, "data-file");
  g_assert_cmpstr (jobs->pdata[0], ==, "c1");

  /* A stop reason during the job names the filter: it is the disk's. */
  names = _qmp_thin_graph_names_above (graph, "snap-file");
  g_assert_true (contains (names, "snap-fmt"));
  g_assert_true (contains (names, DEVICE));
  for (guint i = 0; i < names->len; i++)
    if (((char *) names->pdata[i])[0] == '#')
      return;
  g_assert_not_reached ();
}

/* After the pivot: where the disk was (the overlay), the device now has
 * the base. */
static void
test_committed (gconstpointer data)
{
  g_autoptr(QmpThinGraph) graph = load (data, "committed");
  QmpThinPlace place = { DEVICE, "snap-fmt", 2 };
  g_autofree char *top = NULL;
  g_autofree char *storage = _qmp_thin_graph_follow (graph, &place, &top);

  g_assert_cmpstr (storage, ==, "data-file");
  g_assert_cmpstr (top, ==, "data-fmt");

  /* A device that is gone: nothing to follow. */
  place.device = (char *) "/machine/peripheral/nosuch/virtio-backend";
  g_assert_null (_qmp_thin_graph_follow (graph, &place, NULL));
}

/* A mirror: the device's root is the mirror's filter over the active
 * layer; the target is the job's. */
static void
test_mirror (gconstpointer data)
{
  g_autoptr(QmpThinGraph) graph = load (data, "mirror");
  g_auto(QmpThinPlace) place = { 0, };
  g_autofree char *storage = NULL;
  g_autoptr(GPtrArray) jobs = NULL;
  g_autoptr(GPtrArray) targets = NULL;

  g_assert_true (_qmp_thin_graph_locate (graph, "data-file", &place));
  g_assert_cmpstr (place.device, ==, DEVICE);
  g_assert_cmpstr (place.top, ==, "data-fmt");
  storage = _qmp_thin_graph_follow (graph, &place, NULL);
  g_assert_cmpstr (storage, ==, "data-file");

  targets = _qmp_thin_graph_targets (graph, "data-fmt", 2, &jobs);
  g_assert_cmpuint (targets->len, ==, 1);
  g_assert_cmpstr (targets->pdata[0], ==, "mir-file");
  g_assert_cmpstr (jobs->pdata[0], ==, "m1");
  /* The target's backend is anonymous: no device of its own. */
  g_assert_true (_qmp_thin_graph_locate (graph, "mir-file", &place));
  g_assert_null (place.device);
  g_assert_cmpstr (place.top, ==, "mir-fmt");
}

/* A chain no device uses (a -machine none VM): followed up its backing
 * chain to the overlay. */
static void
test_no_device (void)
{
  const char *text =
    "{\"nodes\": [{\"name\": \"snap-fmt\", \"type\": \"block-driver\", \"id\": 3},"
    "             {\"name\": \"snap-file\", \"type\": \"block-driver\", \"id\": 4},"
    "             {\"name\": \"data-fmt\", \"type\": \"block-driver\", \"id\": 1},"
    "             {\"name\": \"data-file\", \"type\": \"block-driver\", \"id\": 2},"
    "             {\"name\": \"x\", \"type\": \"something-new\", \"id\": 9}],"
    " \"edges\": [{\"name\": \"file\", \"parent\": 3, \"child\": 4},"
    "             {\"name\": \"backing\", \"parent\": 3, \"child\": 1},"
    "             {\"name\": \"file\", \"parent\": 1, \"child\": 2},"
    "             {\"name\": \"file\", \"parent\": 9, \"child\": 2},"
    "             {\"name\": \"file\", \"parent\": 3, \"child\": 77}]}";
  g_autoptr(JsonNode) value = json_from_string (text, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(QmpThinGraph) graph = _qmp_thin_graph_new (value, &error);
  QmpThinPlace place = { NULL, "data-fmt", 1 };
  g_autofree char *top = NULL;
  g_autofree char *storage = NULL;

  g_assert_no_error (error);
  storage = _qmp_thin_graph_follow (graph, &place, &top);
  g_assert_cmpstr (storage, ==, "snap-file");
  g_assert_cmpstr (top, ==, "snap-fmt");
}

static void
test_malformed (void)
{
  const char *bad[] = {
    "[]",
    "{}",
    "{\"nodes\": [], \"edges\": {}}",
    "{\"nodes\": [{\"type\": \"block-driver\", \"id\": 1}], \"edges\": []}",
    "{\"nodes\": [{\"name\": \"a\", \"type\": \"block-driver\", \"id\": \"1\"}], \"edges\": []}",
    "{\"nodes\": [42], \"edges\": []}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(JsonNode) value = json_from_string (bad[i], NULL);
      g_autoptr(GError) error = NULL;
      g_autoptr(QmpThinGraph) graph = _qmp_thin_graph_new (value, &error);

      g_assert_null (graph);
      g_assert_error (error, QMP_ERROR, QMP_ERROR_PROTOCOL);
    }
}

/* `qemu-img measure -O qcow2 --size SIZE -o cluster_size=CLUSTER`,
 * "fully allocated size", QEMU 7.2. */
static void
test_estimate (void)
{
  static const struct {
    guint64 size;
    guint64 cluster;
    guint64 measured;
  } cases[] = {
    { 16 * MiB, 65536, 17104896 },
    { 16 * MiB, 2 * MiB, 27262976 },
    { 16 * MiB, 512, 17112576 },
    { 64 * MiB, 65536, 67436544 },
    { 64 * MiB, 2 * MiB, 77594624 },
    { 64 * MiB, 512, 68446720 },
    { 1024 * MiB, 65536, 1074135040 },
    { 1024 * MiB, 2 * MiB, 1084227584 },
    { 1024 * MiB, 512, 1095127040 },
    { 100 * 1024 * MiB, 65536, G_GUINT64_CONSTANT (107390828544) },
    { 100 * 1024 * MiB, 2 * MiB, G_GUINT64_CONSTANT (107384668160) },
    { 100 * 1024 * MiB, 512, G_GUINT64_CONSTANT (109512586752) },
    { 1024 * 1024 * MiB, 65536, G_GUINT64_CONSTANT (1099679662080) },
    { 1024 * 1024 * MiB, 2 * MiB, G_GUINT64_CONSTANT (1099524210688) },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_assert_cmpuint (qmp_thin_estimate_maximum_size ("qcow2", cases[i].size, cases[i].cluster), ==,
                      cases[i].measured);
  /* Not a whole cluster: rounded up like QEMU does. */
  g_assert_cmpuint (qmp_thin_estimate_maximum_size ("qcow2", 16 * MiB - 1, 65536), ==, 17104896);
  g_assert_cmpuint (qmp_thin_estimate_maximum_size ("raw", 16 * MiB, 0), ==, 16 * MiB);
  /* What it cannot tell. */
  g_assert_cmpuint (qmp_thin_estimate_maximum_size ("vmdk", 16 * MiB, 65536), ==, 0);
  g_assert_cmpuint (qmp_thin_estimate_maximum_size ("qcow2", 16 * MiB, 0), ==, 0);
  g_assert_cmpuint (qmp_thin_estimate_maximum_size ("qcow2", 16 * MiB, 65535), ==, 0);
  g_assert_cmpuint (qmp_thin_estimate_maximum_size ("qcow2", G_MAXUINT64, 65536), ==, 0);
}

int
main (int    argc,
      char **argv)
{
  const char *versions[] = { NULL, "qemu-10.0" };

  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (versions); i++)
    {
      const char *v = versions[i] != NULL ? "10.0" : "7.2";
      g_autofree char *snapshot = g_strdup_printf ("/qmp/graph/%s/snapshot", v);
      g_autofree char *commit = g_strdup_printf ("/qmp/graph/%s/commit", v);
      g_autofree char *committed = g_strdup_printf ("/qmp/graph/%s/committed", v);
      g_autofree char *mirror = g_strdup_printf ("/qmp/graph/%s/mirror", v);

      g_test_add_data_func (snapshot, versions[i], test_snapshot);
      g_test_add_data_func (commit, versions[i], test_commit);
      g_test_add_data_func (committed, versions[i], test_committed);
      g_test_add_data_func (mirror, versions[i], test_mirror);
    }
  g_test_add_func ("/qmp/graph/no-device", test_no_device);
  g_test_add_func ("/qmp/graph/malformed", test_malformed);
  g_test_add_func ("/qmp/graph/estimate", test_estimate);

  return g_test_run ();
}
