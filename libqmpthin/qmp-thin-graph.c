/* qmp-thin-graph.c: the block graph as QmpThinMonitor follows it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * `x-debug-query-block-graph` is the one command that shows the whole
 * graph at once: the guest devices' backends (named by their QOM path, or
 * by drive id with -drive), the block jobs with their `source` and
 * `target`, and every node with its `file` and `backing` children. QEMU
 * calls it a debugging command; it is there, and the same, in QEMU 7.2
 * and 10.0. A monitor that cannot read it (an older or stripped QEMU)
 * watches the nodes it was given, as before.
 *
 * Words used here: a *layer* is a format node with the protocol nodes under
 * it (its `file` chain); the *active layer* of a device is the layer its
 * guest writes, under the job filters (`mirror_top`, `commit_top`) a
 * running job puts in between; the *storage* of a disk is the node at a
 * fixed depth of the active layer's file chain, the depth the consumer's
 * node had when the disk was first found.
 */

#include <string.h>

#include <qmpthin/qmpthin.h>

#include "qmp-json.h"
#include "qmp-thin-graph-private.h"

typedef enum {
  KIND_BACKEND,
  KIND_JOB,
  KIND_DRIVER,
} Kind;

typedef struct _Node Node;

typedef struct {
  const char *role;             /* "file", "backing", "root", "source", "target", "main node"… */
  Node *parent;
  Node *child;
} Edge;

struct _Node
{
  Kind kind;
  const char *name;             /* points into the reply; "" for anonymous backends */
  GPtrArray *children;          /* Edge, unowned */
  GPtrArray *parents;           /* Edge, unowned */
};

struct _QmpThinGraph
{
  JsonNode *value;              /* owned: the names point into it */
  GPtrArray *nodes;             /* owned Node */
  GArray *edges;                /* Edge */
  GHashTable *drivers;          /* name -> Node of kind DRIVER, unowned */
};

static void
node_free (Node *node)
{
  g_ptr_array_unref (node->children);
  g_ptr_array_unref (node->parents);
  g_free (node);
}

void
_qmp_thin_graph_free (QmpThinGraph *graph)
{
  if (graph == NULL)
    return;
  g_hash_table_unref (graph->drivers);
  g_ptr_array_unref (graph->nodes);
  g_array_unref (graph->edges);
  json_node_unref (graph->value);
  g_free (graph);
}

void
_qmp_thin_place_clear (QmpThinPlace *place)
{
  g_clear_pointer (&place->device, g_free);
  g_clear_pointer (&place->top, g_free);
  place->depth = 0;
}

static gboolean
parse_kind (const char *type,
            Kind       *kind)
{
  if (g_strcmp0 (type, "block-backend") == 0)
    *kind = KIND_BACKEND;
  else if (g_strcmp0 (type, "block-job") == 0)
    *kind = KIND_JOB;
  else if (g_strcmp0 (type, "block-driver") == 0)
    *kind = KIND_DRIVER;
  else
    return FALSE;
  return TRUE;
}

/* Reads the return value of `x-debug-query-block-graph`. Node kinds QEMU
 * may add later are left out, with their edges. */
QmpThinGraph *
_qmp_thin_graph_new (JsonNode  *value,
                     GError   **error)
{
  g_autoptr(QmpThinGraph) graph = g_new0 (QmpThinGraph, 1);
  g_autoptr(GHashTable) by_id = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autoptr(GArray) ids = NULL;
  JsonObject *object = value != NULL && JSON_NODE_HOLDS_OBJECT (value) ? json_node_get_object (value) : NULL;
  JsonArray *nodes = object != NULL ? _qmp_json_get_array (object, "nodes") : NULL;
  JsonArray *edges = object != NULL ? _qmp_json_get_array (object, "edges") : NULL;

  graph->value = json_node_ref (value);
  graph->nodes = g_ptr_array_new_with_free_func ((GDestroyNotify) node_free);
  graph->edges = g_array_new (FALSE, FALSE, sizeof (Edge));
  graph->drivers = g_hash_table_new (g_str_hash, g_str_equal);
  if (nodes == NULL || edges == NULL)
    {
      g_set_error_literal (error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                           "The block graph lacks its nodes or edges");
      return NULL;
    }

  ids = g_array_sized_new (FALSE, FALSE, sizeof (gint64), json_array_get_length (nodes));
  for (guint i = 0; i < json_array_get_length (nodes); i++)
    {
      JsonNode *element = json_array_get_element (nodes, i);
      JsonObject *entry = JSON_NODE_HOLDS_OBJECT (element) ? json_node_get_object (element) : NULL;
      const char *name = entry != NULL ? _qmp_json_get_string (entry, "name") : NULL;
      JsonNode *id = entry != NULL ? json_object_get_member (entry, "id") : NULL;
      Node *node;
      Kind kind;

      if (name == NULL || id == NULL || json_node_get_value_type (id) != G_TYPE_INT64)
        {
          g_set_error (error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                       "Node %u of the block graph lacks a name or an id", i);
          return NULL;
        }
      if (!parse_kind (_qmp_json_get_string (entry, "type"), &kind))
        continue;
      node = g_new0 (Node, 1);
      node->kind = kind;
      node->name = name;
      node->children = g_ptr_array_new ();
      node->parents = g_ptr_array_new ();
      g_ptr_array_add (graph->nodes, node);
      g_array_append_val (ids, (gint64) { json_node_get_int (id) });
      if (kind == KIND_DRIVER && *name != '\0')
        g_hash_table_insert (graph->drivers, (gpointer) name, node);
    }
  for (guint i = 0; i < ids->len; i++)
    g_hash_table_insert (by_id, &g_array_index (ids, gint64, i), graph->nodes->pdata[i]);

  for (guint i = 0; i < json_array_get_length (edges); i++)
    {
      JsonNode *element = json_array_get_element (edges, i);
      JsonObject *entry = JSON_NODE_HOLDS_OBJECT (element) ? json_node_get_object (element) : NULL;
      gint64 parent = entry != NULL ? _qmp_json_get_int (entry, "parent", -1) : -1;
      gint64 child = entry != NULL ? _qmp_json_get_int (entry, "child", -1) : -1;
      Edge edge = { entry != NULL ? _qmp_json_get_string (entry, "name") : NULL, };

      edge.parent = g_hash_table_lookup (by_id, &parent);
      edge.child = g_hash_table_lookup (by_id, &child);
      if (edge.role == NULL || edge.parent == NULL || edge.child == NULL)
        continue;
      g_array_append_val (graph->edges, edge);
    }
  /* The array no longer grows: the edges can be pointed at. */
  for (guint i = 0; i < graph->edges->len; i++)
    {
      Edge *edge = &g_array_index (graph->edges, Edge, i);

      g_ptr_array_add (edge->parent->children, edge);
      g_ptr_array_add (edge->child->parents, edge);
    }
  return g_steal_pointer (&graph);
}

static Node *
child (Node       *node,
       const char *role)
{
  for (guint i = 0; node != NULL && i < node->children->len; i++)
    {
      Edge *edge = node->children->pdata[i];

      if (g_str_equal (edge->role, role))
        return edge->child;
    }
  return NULL;
}

/* The node a job put between a device and its active layer, for as long
 * as the job runs (the job's "main node"). */
static gboolean
is_job_filter (Node *node)
{
  for (guint i = 0; i < node->parents->len; i++)
    {
      Edge *edge = node->parents->pdata[i];

      if (edge->parent->kind == KIND_JOB && g_str_equal (edge->role, "main node"))
        return TRUE;
    }
  return FALSE;
}

static Node *
look_through (Node *node)
{
  /* Bounded: a graph with a cycle is not QEMU's. */
  for (guint i = 0; node != NULL && i < 64 && node->kind == KIND_DRIVER && is_job_filter (node); i++)
    {
      Node *below = child (node, "backing");

      node = below != NULL ? below : child (node, "file");
    }
  return node;
}

static Node *
backend_named (QmpThinGraph *graph,
               const char   *name)
{
  for (guint i = 0; i < graph->nodes->len; i++)
    {
      Node *node = graph->nodes->pdata[i];

      if (node->kind == KIND_BACKEND && g_str_equal (node->name, name))
        return node;
    }
  return NULL;
}

/* The node @depth `file` edges under @top, or the bottom of its chain. */
static Node *
file_at (Node  *top,
         guint  depth)
{
  Node *node = top;

  for (guint i = 0; i < depth && node != NULL; i++)
    {
      Node *below = child (node, "file");

      if (below == NULL)
        break;
      node = below;
    }
  return node;
}

/* The layer over @layer (its overlay), seen through job filters, or
 * NULL when it is the top of its chain. */
static Node *
overlay_of (Node *layer)
{
  for (guint i = 0; i < layer->parents->len; i++)
    {
      Edge *edge = layer->parents->pdata[i];

      if (edge->parent->kind == KIND_DRIVER && g_str_equal (edge->role, "backing") &&
          !is_job_filter (edge->parent))
        return edge->parent;
    }
  return NULL;
}

/* Finds @node_name in the file chain of a layer of a device (in its
 * active layer or further down its backing chain), or, for a chain no
 * device uses, of a layer of the chain: where it sits, and the active
 * layer it belongs to now. */
gboolean
_qmp_thin_graph_locate (QmpThinGraph *graph,
                        const char   *node_name,
                        QmpThinPlace *place)
{
  Node *target = g_hash_table_lookup (graph->drivers, node_name);
  Node *layer = target;
  guint depth = 0;

  if (target == NULL)
    return FALSE;

  /* Up the file chain to its layer: the node that is nobody's file. */
  for (guint i = 0; i < 64; i++)
    {
      Node *up = NULL;

      for (guint j = 0; j < layer->parents->len && up == NULL; j++)
        {
          Edge *edge = layer->parents->pdata[j];

          if (edge->parent->kind == KIND_DRIVER && g_str_equal (edge->role, "file") &&
              !is_job_filter (edge->parent))
            up = edge->parent;
        }
      if (up == NULL)
        break;
      layer = up;
      depth++;
    }

  /* Up the backing chain to the active layer, then to a device. */
  for (Node *over = overlay_of (layer); over != NULL; over = overlay_of (over))
    layer = over;
  _qmp_thin_place_clear (place);
  place->top = g_strdup (layer->name);
  place->depth = depth;
  for (guint i = 0; i < graph->nodes->len; i++)
    {
      Node *backend = graph->nodes->pdata[i];

      if (backend->kind == KIND_BACKEND && *backend->name != '\0' &&
          look_through (child (backend, "root")) == layer)
        {
          place->device = g_strdup (backend->name);
          break;
        }
    }
  return TRUE;
}

/* The storage node of @place now: the node at its depth under the active
 * layer of its device (after a snapshot, the overlay's; after a commit or
 * a mirror pivoted, the new layer's), or, with no device, under the top
 * of the chain its layer is in. NULL when it is gone. The active layer is
 * returned in @top. */
char *
_qmp_thin_graph_follow (QmpThinGraph       *graph,
                        const QmpThinPlace *place,
                        char              **top)
{
  Node *layer = NULL;
  Node *storage;

  if (place->device != NULL)
    {
      Node *backend = backend_named (graph, place->device);

      layer = backend != NULL ? look_through (child (backend, "root")) : NULL;
    }
  else if (place->top != NULL)
    {
      layer = g_hash_table_lookup (graph->drivers, place->top);
      for (Node *over = layer != NULL ? overlay_of (layer) : NULL; over != NULL; over = overlay_of (over))
        layer = over;
    }
  if (layer == NULL || layer->kind != KIND_DRIVER || *layer->name == '\0')
    return NULL;

  storage = file_at (layer, place->depth);
  if (*storage->name == '\0')
    return NULL;
  if (top != NULL)
    *top = g_strdup (layer->name);
  return g_strdup (storage->name);
}

/* The storage nodes the jobs that read @top write to (a mirror's target,
 * an active commit's base), at @depth under their layer; the jobs' ids in
 * @jobs, in the same order. */
GPtrArray *
_qmp_thin_graph_targets (QmpThinGraph  *graph,
                         const char    *top,
                         guint          depth,
                         GPtrArray    **jobs)
{
  GPtrArray *targets = g_ptr_array_new_with_free_func (g_free);

  *jobs = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < graph->nodes->len; i++)
    {
      Node *job = graph->nodes->pdata[i];
      Node *source, *target;

      if (job->kind != KIND_JOB)
        continue;
      source = child (job, "source");
      target = child (job, "target");
      if (source == NULL || target == NULL || !g_str_equal (source->name, top))
        continue;
      target = file_at (target, depth);
      if (*target->name == '\0')
        continue;
      g_ptr_array_add (targets, g_strdup (target->name));
      g_ptr_array_add (*jobs, g_strdup (job->name));
    }
  return targets;
}

/* The names QEMU may use for the disk whose storage is @node_name in a
 * BLOCK_IO_ERROR or query-block: every node above it up its file chain,
 * the job filters over its layer, and the device's backend. */
GPtrArray *
_qmp_thin_graph_names_above (QmpThinGraph *graph,
                             const char   *node_name)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  Node *node = g_hash_table_lookup (graph->drivers, node_name);

  for (guint n = 0; node != NULL && n < 64; n++)
    {
      Node *up = NULL;

      for (guint i = 0; i < node->parents->len && up == NULL; i++)
        {
          Edge *edge = node->parents->pdata[i];

          if (edge->parent->kind == KIND_BACKEND)
            {
              if (*edge->parent->name != '\0')
                g_ptr_array_add (names, g_strdup (edge->parent->name));
            }
          else if (edge->parent->kind == KIND_DRIVER &&
                   (g_str_equal (edge->role, "file") || is_job_filter (edge->parent)))
            up = edge->parent;
        }
      if (up != NULL && *up->name != '\0')
        g_ptr_array_add (names, g_strdup (up->name));
      node = up;
    }
  return names;
}
