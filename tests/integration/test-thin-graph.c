/* test-thin-graph.c: QmpThinMonitor follows a disk through snapshots,
 * commits and mirrors of a real QEMU, while its guest writes
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The rig of test-thin.c: every thin "logical volume" is a raw node with
 * size= over a file node on a sparse file (writes past size= fail with
 * ENOSPC, a blockdev-reopen with a larger size= is the extension), a
 * qcow2 node on top. The boot-sector guest (guest/boot.S) fills its data
 * disk with 0x5A and prints DONE on its serial port. The consumer here
 * extends whichever storage node the monitor names, as an agent would.
 * Verdicts never depend on speed: every wait is for a state, with a
 * generous deadline.
 */

#include <string.h>

#include <glib/gstdio.h>
#include <qmpthin/qmpthin.h>

#include "qemu-rig.h"

#define WAIT_LIMIT_MS 60000
#define MiB (1024 * 1024)
#define VIRTUAL_MIB 32
#define CONTAINER_MIB 48
#define CHUNK (4 * MiB)

/* One thin volume: its file node (the storage node the monitor watches)
 * and the raw node whose size= limits it; no raw node for the file of an
 * image QEMU made itself (blockdev-snapshot-sync): a sparse file grows. */
typedef struct {
  char *file;
  char *lim;                    /* NULL: no limit to move */
  guint64 size;
  guint n_needs;
  guint n_extensions;
  gboolean watched;             /* the disk or a replica is on it */
} Stack;

typedef struct {
  char *node;
  guint64 size;
} Held;

typedef struct {
  QmpTestQemu *qemu;
  char *disks;                  /* owned: the images' directory */
  GPtrArray *images;            /* names of files in it */
  QmpClient *client;
  QmpThinMonitor *monitor;
  QmpThinDisk *disk;            /* unowned: the monitor's */
  GPtrArray *stacks;            /* Stack */
  guint64 container;
  /* What the monitor said. */
  guint n_needs;
  guint n_missed;
  guint n_polls_at_missed;
  GPtrArray *moves;             /* "previous>new" */
  guint64 moved_size;           /* the disk's physical size at the last move */
  guint n_replicas_added;
  guint n_replicas_removed;
  GPtrArray *errors;            /* GError */
  guint n_too_long;
  QmpStopKind too_long_kind;
  /* Answers the consumer holds back, for the node named in hold. */
  char *hold;
  GArray *held;                 /* Held */
  /* Block jobs. */
  GPtrArray *events;            /* names of the job events seen */
  guint n_job_errors;
  /* The guest and the VM. */
  guint n_stops;
  gboolean stopped_after_retry;
} Fixture;

static void
stack_free (Stack *stack)
{
  g_free (stack->file);
  g_free (stack->lim);
  g_free (stack);
}

static void
held_clear (Held *held)
{
  g_free (held->node);
}

/* ------------------------------------------------------------------------ */
/* Helpers, after test-thin.c */

static void
run_tool_output (const char * const *argv,
                 char              **output)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &out, &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("%s %s failed: %s\n%s%s", argv[0], argv[1], error->message, out, err);
  if (output != NULL)
    *output = g_steal_pointer (&out);
}

static void
run_tool (const char * const *argv)
{
  run_tool_output (argv, NULL);
}

static gboolean
on_timeout_flag (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the main context for @ms, blocking in it. */
static void
run_for (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, on_timeout_flag, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

static char *
image_path (Fixture    *f,
            const char *name)
{
  return g_build_filename (f->disks, name, NULL);
}

/* A qcow2 image of @virtual_mib in a sparse file of CONTAINER_MIB; an
 * overlay names its @backing image in its header, as an agent creates it
 * (QEMU's blockdev-snapshot does not write it). */
static void
make_image_over (Fixture    *f,
                 const char *name,
                 guint       virtual_mib,
                 const char *backing)
{
  g_autofree char *path = image_path (f, name);
  g_autofree char *size = g_strdup_printf ("%uM", virtual_mib);
  g_autofree char *qemu_img = qmp_test_qemu_find_tool ("qemu-img");
  const char *create[] = { qemu_img, "create", "-q", "-f", "qcow2", path, size, NULL };
  const char *create_over[] = { qemu_img, "create", "-q", "-f", "qcow2", "-u", "-b", backing, "-F", "qcow2",
                                path, size, NULL };

  run_tool (backing != NULL ? create_over : create);
  g_assert_cmpint (truncate (path, (off_t) CONTAINER_MIB * MiB), ==, 0);
  g_ptr_array_add (f->images, g_strdup (name));
}

static void
make_image (Fixture    *f,
            const char *name,
            guint       virtual_mib)
{
  make_image_over (f, name, virtual_mib, NULL);
}

static void
make_boot_disk (Fixture *f)
{
  const char *guest = g_getenv ("QMP_TEST_GUEST_BOOT");
  g_autofree char *path = image_path (f, "boot.img");
  g_autofree char *sector = NULL;
  gsize length;

  g_assert_nonnull (guest);
  g_assert_true (g_file_get_contents (guest, &sector, &length, NULL));
  g_assert_cmpuint (length, ==, 512);
  g_assert_true (g_file_set_contents (path, sector, length, NULL));
  g_assert_cmpint (truncate (path, MiB), ==, 0);
  g_ptr_array_add (f->images, g_strdup ("boot.img"));
}

static char *
serial_log (Fixture *f)
{
  g_autofree char *path = g_build_filename (qmp_test_qemu_get_dir (f->qemu), "serial.log", NULL);
  char *contents = NULL;

  g_file_get_contents (path, &contents, NULL, NULL);
  return contents ? contents : g_strdup ("");
}

static gboolean
guest_done (Fixture *f)
{
  g_autofree char *log = serial_log (f);

  return strstr (log, "DONE") != NULL;
}

static JsonNode *
execute (QmpClient  *client,
         const char *command,
         JsonObject *arguments)
{
  g_autoptr(GError) error = NULL;
  JsonNode *value = qmp_client_execute_sync (client, command, arguments, NULL, &error);

  if (error != NULL)
    g_error ("%s: %s", command, error->message);
  return value;
}

static void
execute_json (QmpClient  *client,
              const char *command,
              const char *arguments_json)
{
  g_autoptr(JsonNode) arguments = arguments_json ? json_from_string (arguments_json, NULL) : NULL;
  g_autoptr(JsonNode) value = NULL;

  g_assert_true (arguments_json == NULL || arguments != NULL);
  value = execute (client, command, arguments ? json_node_get_object (arguments) : NULL);
}

/* An HMP qemu-io command, which says nothing when it worked. */
static void
hmp (QmpClient  *client,
     const char *command_line)
{
  g_autoptr(JsonObject) arguments = json_object_new ();
  g_autoptr(JsonNode) value = NULL;
  const char *said;

  json_object_set_string_member (arguments, "command-line", command_line);
  value = execute (client, "human-monitor-command", arguments);
  said = JSON_NODE_HOLDS_VALUE (value) ? json_node_get_string (value) : NULL;
  if (said != NULL && strstr (said, "wrote") == NULL && *said != '\0')
    g_error ("HMP %s: %s", command_line, said);
}

static QmpBlockNode *
find_node (QmpClient  *client,
           const char *node_name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) nodes = qmp_client_query_named_block_nodes_sync (client, NULL, &error);

  g_assert_no_error (error);
  for (guint i = 0; i < nodes->len; i++)
    if (g_str_equal (qmp_block_node_get_node_name (nodes->pdata[i]), node_name))
      return g_object_ref (nodes->pdata[i]);
  return NULL;
}

static guint64
node_threshold (QmpClient  *client,
                const char *node_name)
{
  g_autoptr(QmpBlockNode) node = find_node (client, node_name);

  g_assert_nonnull (node);
  return qmp_block_node_get_write_threshold (node);
}

static QmpRunState
run_state (QmpClient *client)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QmpStatusInfo) status = qmp_client_query_status_sync (client, NULL, &error);

  g_assert_no_error (error);
  return qmp_status_info_get_status (status);
}

/* ------------------------------------------------------------------------ */
/* The consumer: it extends whatever storage node it is asked for */

static Stack *
stack_add (Fixture    *f,
           const char *file,
           const char *lim,
           guint64     size)
{
  Stack *stack = g_new0 (Stack, 1);

  stack->file = g_strdup (file);
  stack->lim = g_strdup (lim);
  stack->size = size;
  g_ptr_array_add (f->stacks, stack);
  return stack;
}

static Stack *
stack_of (Fixture    *f,
          const char *file)
{
  for (guint i = 0; i < f->stacks->len; i++)
    {
      Stack *stack = f->stacks->pdata[i];

      if (g_str_equal (stack->file, file))
        return stack;
    }
  return NULL;
}

/* The logical volume grows: the raw node over @stack's file gets a larger
 * size= (blockdev-reopen restates every option). */
static void
reopen_limit (QmpClient  *client,
              const char *lim,
              const char *file,
              guint64     size)
{
  g_autoptr(JsonObject) arguments = json_object_new ();
  g_autoptr(JsonArray) options = json_array_new ();
  g_autoptr(JsonObject) raw = json_object_new ();
  g_autoptr(JsonNode) value = NULL;

  json_object_set_string_member (raw, "driver", "raw");
  json_object_set_string_member (raw, "node-name", lim);
  json_object_set_string_member (raw, "file", file);
  json_object_set_int_member (raw, "size", (gint64) size);
  json_array_add_object_element (options, g_steal_pointer (&raw));
  json_object_set_array_member (arguments, "options", g_steal_pointer (&options));
  value = execute (client, "blockdev-reopen", arguments);
}

static void
extend_stack (Fixture *f,
              Stack   *stack,
              guint64  wanted)
{
  guint64 size = MIN (wanted, f->container);

  /* Never a node the disk left: the monitor must not ask for one. */
  g_assert_true (stack->watched);
  if (stack->lim != NULL && size > stack->size)
    reopen_limit (f->client, stack->lim, stack->file, size);
  stack->size = MAX (stack->size, size);
  stack->n_extensions++;
  qmp_thin_monitor_extended (f->monitor, stack->file, size);
}

static void
on_extend_needed (QmpThinMonitor  *monitor,
                  QmpThinDisk     *disk,
                  guint64          wanted_size,
                  QmpExtendReason  reason,
                  gpointer         user_data)
{
  Fixture *f = user_data;
  const char *node = qmp_thin_disk_get_node_name (disk);
  Stack *stack = stack_of (f, node);

  if (stack == NULL)
    g_error ("asked to extend %s, which the test never made", node);
  if (!stack->watched)
    g_error ("asked to extend %s, which no disk is on", node);
  f->n_needs++;
  stack->n_needs++;
  if (reason == QMP_EXTEND_REASON_MISSED)
    {
      f->n_missed++;
      if (f->n_missed == 1)
        f->n_polls_at_missed = qmp_thin_monitor_get_n_polls (monitor);
    }
  if (f->hold != NULL && g_str_equal (node, f->hold))
    {
      Held held = { g_strdup (node), MIN (wanted_size, f->container) };

      g_array_append_val (f->held, held);
      return;
    }
  extend_stack (f, stack, wanted_size);
}

static void
on_disk_moved (QmpThinMonitor *monitor,
               QmpThinDisk    *disk,
               const char     *previous,
               gpointer        user_data)
{
  Fixture *f = user_data;
  const char *node = qmp_thin_disk_get_node_name (disk);
  Stack *left = stack_of (f, previous);
  Stack *now = stack_of (f, node);

  g_test_message ("disk-moved: %s -> %s (physical size %" G_GUINT64_FORMAT ", %u polls)", previous, node,
                  qmp_thin_disk_get_physical_size (disk), qmp_thin_monitor_get_n_polls (monitor));
  g_ptr_array_add (f->moves, g_strdup_printf ("%s>%s", previous, node));
  f->moved_size = qmp_thin_disk_get_physical_size (disk);
  if (left != NULL)
    left->watched = FALSE;
  /* A file node QEMU named itself (blockdev-snapshot-sync): a plain
   * sparse file, which grows by itself. */
  if (now == NULL)
    now = stack_add (f, node, NULL, qmp_thin_disk_get_physical_size (disk));
  now->watched = TRUE;
}

static void
on_replica_added (QmpThinMonitor *monitor,
                  QmpThinDisk    *replica,
                  gpointer        user_data)
{
  Fixture *f = user_data;
  Stack *stack = stack_of (f, qmp_thin_disk_get_node_name (replica));

  g_test_message ("replica-added: %s for %s, job %s", qmp_thin_disk_get_node_name (replica),
                  qmp_thin_disk_get_node_name (qmp_thin_disk_get_replica_of (replica)),
                  qmp_thin_disk_get_job (replica));
  g_assert_nonnull (stack);
  g_assert_true (qmp_thin_disk_get_replica_of (replica) == f->disk);
  stack->watched = TRUE;
  f->n_replicas_added++;
}

static void
on_replica_removed (QmpThinMonitor *monitor,
                    QmpThinDisk    *replica,
                    gpointer        user_data)
{
  Fixture *f = user_data;
  Stack *stack = stack_of (f, qmp_thin_disk_get_node_name (replica));

  g_test_message ("replica-removed: %s", qmp_thin_disk_get_node_name (replica));
  /* Promoted, the disk-moved that follows watches it again. */
  stack->watched = FALSE;
  f->n_replicas_removed++;
}

static void
on_monitor_error (QmpThinMonitor *monitor,
                  QmpThinDisk    *disk,
                  GError         *error,
                  gpointer        user_data)
{
  Fixture *f = user_data;

  g_test_message ("monitor error on %s: %s", disk ? qmp_thin_disk_get_node_name (disk) : "(VM)", error->message);
  g_ptr_array_add (f->errors, g_error_copy (error));
}

static void
on_too_long (QmpThinMonitor *monitor,
             QmpStopReason  *reason,
             gpointer        user_data)
{
  Fixture *f = user_data;

  f->n_too_long++;
  f->too_long_kind = qmp_stop_reason_get_kind (reason);
}

static void
on_event (QmpClient *client,
          QmpEvent  *event,
          gpointer   user_data)
{
  Fixture *f = user_data;
  const char *name = qmp_event_get_name (event);

  if (g_str_has_prefix (name, "BLOCK_JOB"))
    g_ptr_array_add (f->events, g_strdup (name));
  if (g_str_equal (name, "BLOCK_JOB_ERROR"))
    {
      f->n_job_errors++;
    }
  if (g_str_equal (name, "STOP"))
    f->n_stops++;
}

static gboolean
seen_event (Fixture    *f,
            const char *name)
{
  for (guint i = 0; i < f->events->len; i++)
    if (g_str_equal (f->events->pdata[i], name))
      return TRUE;
  return FALSE;
}

static const char *
describe (Fixture *f)
{
  static char text[2048];
  g_autofree char *log = serial_log (f);
  g_autofree char *tail = g_strdup (strlen (log) > 200 ? log + strlen (log) - 200 : log);

  g_snprintf (text, sizeof text, "disk %s state %d, %u needs, %u pauses, %u resumes, %u job errors, %u job resumes; "
              "serial: …%s", f->disk ? qmp_thin_disk_get_node_name (f->disk) : "-",
              f->disk ? (int) qmp_thin_disk_get_state (f->disk) : -1, f->n_needs,
              qmp_thin_monitor_get_n_nospace_pauses (f->monitor), qmp_thin_monitor_get_n_resumes (f->monitor),
              f->n_job_errors, qmp_thin_monitor_get_n_job_resumes (f->monitor), tail);
  return text;
}

/* Waits for @cond; aborts after WAIT_LIMIT_MS. A job stopped on a full
 * target is the monitor's to resume. */
#define WAIT_FOR(f, cond, what) \
  G_STMT_START { \
    gint64 wait_deadline_ = g_get_monotonic_time () + (gint64) WAIT_LIMIT_MS * 1000; \
    while (!(cond)) \
      { \
        if (g_get_monotonic_time () > wait_deadline_) \
          g_error ("waited %d ms for %s: %s", WAIT_LIMIT_MS, what, describe (f)); \
        run_for (10); \
      } \
  } G_STMT_END

/* ------------------------------------------------------------------------ */
/* The fixture */

#define GUEST \
  "-machine", "pc,accel=tcg", "-m", "32", "-S", "-serial", "file:@DIR@/serial.log", \
  "-blockdev", "driver=file,node-name=boot-file,filename=@DISKS@/boot.img", \
  "-blockdev", "driver=raw,node-name=boot-fmt,file=boot-file", \
  "-device", "ide-hd,bus=ide.0,unit=0,drive=boot-fmt,id=bootdisk,bootindex=0"

#define DATA_STACK(limit) \
  "-blockdev", "driver=file,node-name=data-file,filename=@DISKS@/data.qcow2", \
  "-blockdev", "driver=raw,node-name=data-lim,file=data-file,size=" limit, \
  "-blockdev", "driver=qcow2,node-name=data-fmt,file=data-lim"

#define DATA_STACK_EIO(limit) \
  DATA_STACK (limit), \
  "-blockdev", "driver=blkdebug,node-name=data-eio,image=data-file," \
               "inject-error.0.event=pwritev,inject-error.0.iotype=write,inject-error.0.errno=5," \
               "inject-error.0.once=off"

#define DATA_DEVICE(werror) \
  "-device", "virtio-blk-pci,drive=data-fmt,id=datadisk,werror=" werror ",rerror=stop"

static gboolean
fixture_start (Fixture            *f,
               const char * const *args,
               gboolean            with_guest,
               guint               virtual_mib)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);

  f->stacks = g_ptr_array_new_with_free_func ((GDestroyNotify) stack_free);
  f->moves = g_ptr_array_new_with_free_func (g_free);
  f->errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  f->events = g_ptr_array_new_with_free_func (g_free);
  f->images = g_ptr_array_new_with_free_func (g_free);
  f->held = g_array_new (FALSE, TRUE, sizeof (Held));
  g_array_set_clear_func (f->held, (GDestroyNotify) held_clear);
  f->container = (guint64) CONTAINER_MIB * MiB;
  if (!qmp_test_qemu_require ())
    return FALSE;

  f->disks = g_dir_make_tmp ("qmpthin-graph-XXXXXX", &error);
  g_assert_no_error (error);
  make_image (f, "data.qcow2", virtual_mib);
  if (with_guest)
    make_boot_disk (f);
  for (guint i = 0; args[i] != NULL; i++)
    {
      g_auto(GStrv) parts = g_strsplit (args[i], "@DISKS@", -1);

      g_ptr_array_add (argv, g_strjoinv (f->disks, parts));
    }
  g_ptr_array_add (argv, NULL);
  f->qemu = qmp_test_qemu_start ((const char * const *) argv->pdata);

  f->client = qmp_client_new (qmp_test_qemu_get_address (f->qemu));
  g_signal_connect (f->client, "event", G_CALLBACK (on_event), f);
  qmp_client_connect_sync (f->client, NULL, &error);
  g_assert_no_error (error);

  f->monitor = qmp_thin_monitor_new (f->client);
  g_signal_connect (f->monitor, "extend-needed", G_CALLBACK (on_extend_needed), f);
  g_signal_connect (f->monitor, "disk-moved", G_CALLBACK (on_disk_moved), f);
  g_signal_connect (f->monitor, "replica-added", G_CALLBACK (on_replica_added), f);
  g_signal_connect (f->monitor, "replica-removed", G_CALLBACK (on_replica_removed), f);
  g_signal_connect (f->monitor, "error", G_CALLBACK (on_monitor_error), f);
  g_signal_connect (f->monitor, "paused-too-long", G_CALLBACK (on_too_long), f);
  return TRUE;
}

static void
fixture_stop (Fixture *f)
{
  g_clear_object (&f->monitor);
  g_clear_object (&f->client);
  g_clear_pointer (&f->qemu, qmp_test_qemu_free);
  if (f->disks != NULL)
    {
      for (guint i = 0; i < f->images->len; i++)
        {
          g_autofree char *path = image_path (f, f->images->pdata[i]);

          g_unlink (path);
        }
      g_assert_cmpint (g_rmdir (f->disks), ==, 0);
      g_clear_pointer (&f->disks, g_free);
    }
  g_clear_pointer (&f->stacks, g_ptr_array_unref);
  g_clear_pointer (&f->moves, g_ptr_array_unref);
  g_clear_pointer (&f->errors, g_ptr_array_unref);
  g_clear_pointer (&f->events, g_ptr_array_unref);
  g_clear_pointer (&f->images, g_ptr_array_unref);
  g_clear_pointer (&f->held, g_array_unref);
  g_clear_pointer (&f->hold, g_free);
}

/* The data disk under the monitor: 2 MiB of storage, 4 MiB chunks. */
static void
watch_data (Fixture *f)
{
  stack_add (f, "data-file", "data-lim", 2 * MiB)->watched = TRUE;
  f->disk = qmp_thin_monitor_add_disk (f->monitor, "data-file", 2 * MiB, CHUNK, QMP_THIN_DEFAULT_FREE_PERCENT);
}

/* A thin volume of the consumer's: @prefix-file on a new image,
 * @prefix-lim with @size, @prefix-fmt (no backing). */
static void
add_thin_stack (Fixture    *f,
                const char *prefix,
                guint64     size,
                const char *backing)
{
  g_autofree char *image = g_strdup_printf ("%s.qcow2", prefix);
  g_autofree char *path = NULL;
  g_autofree char *json = NULL;

  make_image_over (f, image, VIRTUAL_MIB, backing);
  path = image_path (f, image);
  json = g_strdup_printf ("{\"driver\": \"file\", \"node-name\": \"%s-file\", \"filename\": \"%s\"}", prefix, path);
  execute_json (f->client, "blockdev-add", json);
  g_free (json);
  json = g_strdup_printf ("{\"driver\": \"raw\", \"node-name\": \"%s-lim\", \"file\": \"%s-file\", "
                          "\"size\": %" G_GUINT64_FORMAT "}", prefix, prefix, size);
  execute_json (f->client, "blockdev-add", json);
  g_free (json);
  json = g_strdup_printf ("{\"driver\": \"qcow2\", \"node-name\": \"%s-fmt\", \"file\": \"%s-lim\", "
                          "\"backing\": null}", prefix, prefix);
  execute_json (f->client, "blockdev-add", json);
  {
    g_autofree char *file = g_strdup_printf ("%s-file", prefix);
    g_autofree char *lim = g_strdup_printf ("%s-lim", prefix);

    stack_add (f, file, lim, size);
    /* Declared under the node the monitor watches: the raw node's size=
     * is what limits the storage, not the sparse file's size. */
    qmp_thin_monitor_declare_storage (f->monitor, file, size);
  }
}

static gint64
start_guest (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  g_assert_true (qmp_client_cont_sync (f->client, NULL, &error));
  g_assert_no_error (error);
  return start;
}

/* The guest finished, nothing is paused, every pause for lack of space
 * was the monitor's to resume and it did. */
static void
check_finished (Fixture    *f,
                const char *what,
                gint64      start)
{
  GString *per_stack = g_string_new (NULL);

  WAIT_FOR (f, guest_done (f), "the guest's DONE");
  for (guint i = 0; i < f->stacks->len; i++)
    {
      Stack *stack = f->stacks->pdata[i];

      g_string_append_printf (per_stack, "%s%s: %u needs, %u extensions, %" G_GUINT64_FORMAT " MiB", i ? "; " : "",
                              stack->file, stack->n_needs, stack->n_extensions, stack->size / MiB);
    }
  g_test_message ("QEMU %s, %s: the guest filled %u MiB in %.2f s; %u ENOSPC pauses, %.1f ms paused in all, "
                  "%u resumes by the monitor; %u job errors, %u job resumes; %s",
                  qmp_client_get_qemu_version (f->client), what, VIRTUAL_MIB,
                  (g_get_monotonic_time () - start) / 1e6, qmp_thin_monitor_get_n_nospace_pauses (f->monitor),
                  qmp_thin_monitor_get_nospace_paused_usec (f->monitor) / 1e3,
                  qmp_thin_monitor_get_n_resumes (f->monitor), f->n_job_errors, qmp_thin_monitor_get_n_job_resumes (f->monitor), per_stack->str);
  g_string_free (per_stack, TRUE);
  g_assert_cmpuint (qmp_thin_monitor_get_n_resumes (f->monitor), ==,
                    qmp_thin_monitor_get_n_nospace_pauses (f->monitor));
  g_assert_cmpint (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f->client)), ==, QMP_STOP_KIND_RUNNING);
  g_assert_cmpuint (f->errors->len, ==, 0);
  /* A job that stopped on its full target was resumed by the monitor
   * (the test resumes nothing): it finished. */
  if (f->n_job_errors > 0)
    g_assert_cmpuint (qmp_thin_monitor_get_n_job_resumes (f->monitor), >=, 1);
}

/* QEMU quits; the image @name is clean and reads 0x5A from end to end
 * through its backing chain as QEMU wrote it down. */
static void
quit_and_check (Fixture    *f,
                const char *name)
{
  g_autoptr(JsonNode) value = qmp_client_execute_sync (f->client, "quit", NULL, NULL, NULL);
  g_autofree char *path = image_path (f, name);
  g_autofree char *qemu_img = qmp_test_qemu_find_tool ("qemu-img");
  g_autofree char *qemu_io = qmp_test_qemu_find_tool ("qemu-io");
  g_autofree char *pattern = g_strdup_printf ("read -P 0x5a 0 %uM", VIRTUAL_MIB);
  g_autofree char *info = NULL;
  const char *info_argv[] = { qemu_img, "info", "--output=json", path, NULL };
  const char *check[] = { qemu_img, "check", "-q", path, NULL };
  const char *read[] = { qemu_io, "-f", "qcow2", "-r", "-c", pattern, path, NULL };
  g_autoptr(JsonNode) parsed = NULL;
  JsonObject *object;

  g_assert_true (qmp_test_qemu_wait_exit (f->qemu, 20000));
  run_tool_output (info_argv, &info);
  parsed = json_from_string (info, NULL);
  g_assert_nonnull (parsed);
  object = json_node_get_object (parsed);
  if (json_object_has_member (object, "backing-filename"))
    g_test_message ("%s: backing file %s", name, json_object_get_string_member (object, "backing-filename"));
  run_tool (check);
  run_tool (read);
}

/* ------------------------------------------------------------------------ */
/* 1. Snapshots mid-fill */

typedef enum {
  SNAPSHOT_REFRESH,             /* blockdev-snapshot, then refresh() */
  SNAPSHOT_POLL,                /* no refresh(): the poll finds it */
  SNAPSHOT_PAUSE,               /* no refresh(), no poll: the ENOSPC pause does */
  SNAPSHOT_SYNC,                /* blockdev-snapshot-sync, QEMU makes the image */
} SnapshotMode;

static void
test_snapshot (gconstpointer data)
{
  SnapshotMode mode = GPOINTER_TO_INT (data);
  const char *args[] = { GUEST, DATA_STACK ("2097152"), DATA_DEVICE ("enospc"), NULL };
  static const char *names[] = { "refresh", "poll", "ENOSPC pause", "snapshot-sync" };
  Fixture f = { 0, };
  const char *overlay = mode == SNAPSHOT_SYNC ? "sync.qcow2" : "snap.qcow2";
  Stack *data_stack;
  gint64 start;
  guint n_needs_before;

  if (!fixture_start (&f, args, TRUE, VIRTUAL_MIB))
    return;
  watch_data (&f);
  data_stack = stack_of (&f, "data-file");
  if (mode == SNAPSHOT_POLL)
    qmp_thin_monitor_set_poll_interval (f.monitor, 200);
  start = start_guest (&f);

  /* A few extensions into the fill, the agent takes a snapshot. */
  WAIT_FOR (&f, data_stack->n_extensions >= 2, "two extensions of data-file");
  n_needs_before = f.n_needs;
  if (mode == SNAPSHOT_SYNC)
    {
      g_autofree char *path = image_path (&f, overlay);
      g_autofree char *json = g_strdup_printf ("{\"node-name\": \"data-fmt\", \"snapshot-file\": \"%s\", "
                                               "\"snapshot-node-name\": \"sync-fmt\", \"format\": \"qcow2\"}",
                                               path);

      g_ptr_array_add (f.images, g_strdup (overlay));
      execute_json (f.client, "blockdev-snapshot-sync", json);
      qmp_thin_monitor_refresh (f.monitor);
    }
  else
    {
      add_thin_stack (&f, "snap", 8 * MiB, "data.qcow2");
      execute_json (f.client, "blockdev-snapshot", "{\"node\": \"data-fmt\", \"overlay\": \"snap-fmt\"}");
      if (mode == SNAPSHOT_REFRESH)
        qmp_thin_monitor_refresh (f.monitor);
    }

  WAIT_FOR (&f, f.moves->len > 0, "disk-moved");
  g_assert_cmpuint (f.moves->len, ==, 1);
  g_assert_true (g_str_has_prefix (f.moves->pdata[0], "data-file>"));
  if (mode == SNAPSHOT_SYNC)
    g_test_message ("blockdev-snapshot-sync: the disk is on %s", qmp_thin_disk_get_node_name (f.disk));
  else
    {
      Stack *snap = stack_of (&f, "snap-file");

      g_assert_cmpstr (qmp_thin_disk_get_node_name (f.disk), ==, "snap-file");
      /* The size declared, not the file's. */
      g_assert_cmpuint (f.moved_size, ==, 8 * MiB);
      WAIT_FOR (&f, qmp_thin_disk_get_state (f.disk) == QMP_THIN_DISK_STATE_ARMED || snap->n_needs > 0,
                "snap-file armed");
      /* Armed in QEMU at the monitor's threshold, unless the guest crossed
       * it already (then it was asked for, and QEMU disarmed it). */
      {
        guint64 armed = node_threshold (f.client, "snap-file");

        if (snap->n_needs == 0)
          {
            g_assert_cmpuint (armed, ==, qmp_thin_disk_get_threshold (f.disk));
            g_assert_cmpuint (armed, >, 0);
          }
        else
          g_test_message ("snap-file was asked for before its threshold could be read (%" G_GUINT64_FORMAT ")",
                          armed);
      }
    }
  g_assert_cmpuint (node_threshold (f.client, "data-file"), ==, 0);
  g_test_message ("%s: the monitor found the overlay after %u polls; %u needs in between",
                  names[mode], qmp_thin_monitor_get_n_polls (f.monitor), f.n_needs - n_needs_before);

  check_finished (&f, names[mode], start);
  g_assert_cmpuint (f.moves->len, ==, 1);
  g_assert_cmpuint (node_threshold (f.client, "data-file"), ==, 0);
  /* The data disk was asked for no more once the disk left it. */
  quit_and_check (&f, overlay);
  fixture_stop (&f);
}

/* ------------------------------------------------------------------------ */
/* 2. An active commit pivots back to the base mid-fill */

static void
test_commit (void)
{
  const char *args[] = { GUEST, DATA_STACK ("2097152"), DATA_DEVICE ("enospc"), NULL };
  Fixture f = { 0, };
  Stack *data_stack, *snap;
  gint64 start;
  guint n_pauses_at_complete, n_base_extensions;

  if (!fixture_start (&f, args, TRUE, VIRTUAL_MIB))
    return;
  watch_data (&f);
  data_stack = stack_of (&f, "data-file");
  start = start_guest (&f);

  WAIT_FOR (&f, data_stack->n_extensions >= 2, "two extensions of data-file");
  add_thin_stack (&f, "snap", 2 * MiB, "data.qcow2");
  snap = stack_of (&f, "snap-file");
  execute_json (f.client, "blockdev-snapshot", "{\"node\": \"data-fmt\", \"overlay\": \"snap-fmt\"}");
  qmp_thin_monitor_refresh (f.monitor);
  WAIT_FOR (&f, f.moves->len == 1, "the move to the overlay");
  g_assert_cmpstr (qmp_thin_disk_get_node_name (f.disk), ==, "snap-file");
  /* Enough in the overlay that the base must grow to take it in. */
  WAIT_FOR (&f, snap->n_extensions >= 3, "three extensions of snap-file");
  n_base_extensions = data_stack->n_extensions;

  /* The overlay's storage is extended no more: the guest will run out of
   * it while the commit runs, and its needs are answered after the
   * pivot, for a node the disk left. */
  f.hold = g_strdup ("snap-file");
  execute_json (f.client, "block-commit",
                "{\"job-id\": \"commit0\", \"device\": \"snap-fmt\", \"base-node\": \"data-fmt\", "
                "\"on-error\": \"stop\"}");
  WAIT_FOR (&f, f.n_replicas_added == 1, "the base's storage as a replica");
  {
    g_autoptr(GPtrArray) disks = qmp_thin_monitor_list_disks (f.monitor);
    QmpThinDisk *replica = qmp_thin_monitor_get_disk (f.monitor, "data-file");

    g_assert_cmpuint (disks->len, ==, 2);
    g_assert_nonnull (replica);
    g_assert_true (qmp_thin_disk_get_replica_of (replica) == f.disk);
    g_assert_cmpstr (qmp_thin_disk_get_job (replica), ==, "commit0");
  }
  /* The guest runs out of the overlay's storage while the job runs. */
  WAIT_FOR (&f, seen_event (&f, "BLOCK_JOB_READY") && f.held->len > 0 &&
                           qmp_thin_monitor_get_n_nospace_pauses (f.monitor) > 0,
            "the commit ready, a need of the overlay held, the VM paused for it");
  /* The base's storage was extended as a replica's. */
  g_assert_cmpuint (data_stack->n_extensions, >, n_base_extensions);
  n_pauses_at_complete = qmp_thin_monitor_get_n_nospace_pauses (f.monitor);
  g_test_message ("at job-complete: %u held needs of snap-file, VM %s, %u ENOSPC pauses",
                  f.held->len, qmp_stop_reason_get_run_state_string (qmp_client_get_stop_reason (f.client)),
                  n_pauses_at_complete);
  execute_json (f.client, "job-complete", "{\"id\": \"commit0\"}");
  WAIT_FOR (&f, f.moves->len == 2, "the move back to the base");
  g_assert_cmpstr (f.moves->pdata[1], ==, "snap-file>data-file");
  g_assert_cmpstr (qmp_thin_disk_get_node_name (f.disk), ==, "data-file");
  g_assert_cmpuint (f.n_replicas_removed, ==, 1);
  g_assert_false (snap->watched);

  /* The pause was for the old top; the disk has room on the base: the
   * monitor resumes the VM without waiting for the old top's answer. */
  WAIT_FOR (&f, qmp_thin_monitor_get_n_resumes (f.monitor) == n_pauses_at_complete,
            "the VM resumed after the pivot");

  /* The late answers, for the node the disk left: taken, nothing to do
   * (the storage is not touched: the node is out of the graph). */
  g_clear_pointer (&f.hold, g_free);
  for (guint i = 0; i < f.held->len; i++)
    {
      Held *held = &g_array_index (f.held, Held, i);

      qmp_thin_monitor_extended (f.monitor, held->node, held->size);
    }
  g_test_message ("%u late answers for snap-file given after the pivot", f.held->len);

  check_finished (&f, "commit", start);
  g_assert_cmpuint (node_threshold (f.client, "snap-file"), ==, 0);
  quit_and_check (&f, "data.qcow2");
  fixture_stop (&f);
}

/* ------------------------------------------------------------------------ */
/* 3. A mirror to thin storage, then its pivot */

static void
test_mirror (void)
{
  const char *args[] = { GUEST, DATA_STACK ("2097152"), DATA_DEVICE ("enospc"), NULL };
  Fixture f = { 0, };
  Stack *data_stack, *mir;
  guint n_source_extensions;
  gint64 start;

  if (!fixture_start (&f, args, TRUE, VIRTUAL_MIB))
    return;
  watch_data (&f);
  data_stack = stack_of (&f, "data-file");
  start = start_guest (&f);

  WAIT_FOR (&f, data_stack->n_extensions >= 2, "two extensions of data-file");
  add_thin_stack (&f, "mir", 2 * MiB, NULL);
  mir = stack_of (&f, "mir-file");
  n_source_extensions = data_stack->n_extensions;
  execute_json (f.client, "blockdev-mirror",
                "{\"job-id\": \"mirror0\", \"device\": \"data-fmt\", \"target\": \"mir-fmt\", "
                "\"sync\": \"full\", \"on-target-error\": \"stop\"}");
  WAIT_FOR (&f, f.n_replicas_added == 1, "the target as a replica");
  WAIT_FOR (&f, seen_event (&f, "BLOCK_JOB_READY"), "the mirror ready");
  /* Both sides are extended while the job runs: the guest still has most
   * of its disk to write. */
  WAIT_FOR (&f, data_stack->n_extensions > n_source_extensions && mir->n_extensions > 0,
            "an extension of each side");
  g_test_message ("mirror ready: data-file %u extensions, mir-file %u", data_stack->n_extensions,
                  mir->n_extensions);
  execute_json (f.client, "job-complete", "{\"id\": \"mirror0\"}");
  WAIT_FOR (&f, f.moves->len == 1, "the move to the target");
  g_assert_cmpstr (f.moves->pdata[0], ==, "data-file>mir-file");
  g_assert_cmpstr (qmp_thin_disk_get_node_name (f.disk), ==, "mir-file");
  g_assert_cmpuint (f.n_replicas_removed, ==, 1);

  check_finished (&f, "mirror", start);
  g_assert_cmpuint (node_threshold (f.client, "data-file"), ==, 0);
  quit_and_check (&f, "mir.qcow2");
  fixture_stop (&f);
}

/* ------------------------------------------------------------------------ */
/* 4. A threshold disarmed behind the monitor's back: the poll catches it */

static void
test_lost_event (void)
{
  /* A second QMP monitor, for someone else's connection. */
  const char *args[] = {
    "-machine", "none", DATA_STACK ("33554432"),
    "-qmp", "unix:@DIR@/other.sock,server=on,wait=off", NULL
  };
  const guint interval = 300;
  g_autofree char *other_address = NULL;
  Fixture f = { 0, };
  g_autoptr(QmpClient) other = NULL;
  g_autoptr(GError) error = NULL;
  guint polls_at_write;

  if (!fixture_start (&f, args, FALSE, VIRTUAL_MIB))
    return;
  stack_add (&f, "data-file", "data-lim", 4 * MiB)->watched = TRUE;
  /* 4 MiB of storage, 1 MiB chunks: armed at 3.2 MiB. */
  f.disk = qmp_thin_monitor_add_disk (f.monitor, "data-file", 4 * MiB, 1 * MiB, QMP_THIN_DEFAULT_FREE_PERCENT);
  reopen_limit (f.client, "data-lim", "data-file", 4 * MiB);
  WAIT_FOR (&f, qmp_thin_disk_get_state (f.disk) == QMP_THIN_DISK_STATE_ARMED, "the disk armed");
  g_assert_cmpuint (node_threshold (f.client, "data-file"), ==, qmp_thin_disk_get_threshold (f.disk));

  /* Someone else disarms it: the event will never come. */
  other_address = g_strdup_printf ("unix:%s/other.sock", qmp_test_qemu_get_dir (f.qemu));
  other = qmp_client_new (other_address);
  g_assert_true (qmp_client_connect_sync (other, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (qmp_client_set_write_threshold_sync (other, "data-file", 0, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (node_threshold (f.client, "data-file"), ==, 0);

  qmp_thin_monitor_set_poll_interval (f.monitor, interval);
  WAIT_FOR (&f, qmp_thin_monitor_get_n_polls (f.monitor) >= 1, "a first poll");
  g_assert_cmpuint (f.n_needs, ==, 0);
  polls_at_write = qmp_thin_monitor_get_n_polls (f.monitor);
  hmp (f.client, "qemu-io data-fmt \"write -P 0x5a 0 3584k\"");
  WAIT_FOR (&f, f.n_missed > 0, "the need the poll finds");
  g_test_message ("QEMU %s: the lost threshold was caught %u polls after the write (interval %u ms)",
                  qmp_client_get_qemu_version (f.client), f.n_polls_at_missed - polls_at_write, interval);
  /* A poll in flight during the write may see the old allocation; the
   * next one cannot. */
  g_assert_cmpuint (f.n_polls_at_missed - polls_at_write, <=, 2);
  g_assert_cmpuint (f.n_needs, ==, 1);
  WAIT_FOR (&f, qmp_thin_disk_get_state (f.disk) == QMP_THIN_DISK_STATE_ARMED, "the disk armed again");
  g_assert_cmpuint (node_threshold (f.client, "data-file"), ==, qmp_thin_disk_get_threshold (f.disk));
  qmp_thin_monitor_set_poll_interval (f.monitor, 0);

  /* What one poll costs against this QEMU: query-blockstats with
   * query-nodes, one disk stack (no guest devices). */
  {
    g_autoptr(JsonObject) arguments = json_object_new ();
    const guint n = 200;
    gsize size = 0;
    gint64 begin;

    json_object_set_boolean_member (arguments, "query-nodes", TRUE);
    begin = g_get_monotonic_time ();
    for (guint i = 0; i < n; i++)
      {
        g_autoptr(JsonNode) value = execute (other, "query-blockstats", arguments);

        if (i == 0)
          {
            g_autofree char *text = json_to_string (value, FALSE);

            size = strlen (text);
          }
      }
    g_test_message ("QEMU %s: one query-blockstats (query-nodes) round trip takes %.3f ms on average over %u, "
                    "its reply %zu bytes of JSON (return value, compact)",
                    qmp_client_get_qemu_version (f.client), (g_get_monotonic_time () - begin) / 1e3 / n, n, size);
  }
  g_assert_true (qmp_client_close_sync (other, NULL, &error));
  fixture_stop (&f);
}

/* ------------------------------------------------------------------------ */
/* 5. An allocation no qcow2 image of this size can make */

static void
test_improbable (void)
{
  const char *args[] = { "-machine", "none", DATA_STACK ("50331648"), NULL };
  const guint virtual_mib = 16;
  Fixture f = { 0, };
  guint64 estimate;
  g_autofree char *command = NULL;
  GError *error;

  if (!fixture_start (&f, args, FALSE, virtual_mib))
    return;
  stack_add (&f, "data-file", "data-lim", 48 * MiB)->watched = TRUE;
  estimate = qmp_thin_estimate_maximum_size ("qcow2", (guint64) virtual_mib * MiB, 65536);
  g_test_message ("the most a %u MiB qcow2 image can use: %" G_GUINT64_FORMAT " bytes", virtual_mib, estimate);
  /* 36 MiB of storage, 8 MiB chunks: armed at 29.6 MiB. */
  f.disk = qmp_thin_monitor_add_disk (f.monitor, "data-file", 36 * MiB, 8 * MiB, QMP_THIN_DEFAULT_FREE_PERCENT);
  WAIT_FOR (&f, qmp_thin_disk_get_state (f.disk) == QMP_THIN_DISK_STATE_ARMED &&
                      qmp_thin_disk_get_maximum_size (f.disk) > 0, "the disk armed, its maximum known");
  g_assert_cmpuint (qmp_thin_disk_get_maximum_size (f.disk), ==, estimate);
  g_assert_cmpuint (qmp_thin_disk_get_threshold (f.disk), >, estimate);

  /* Something writes under the image format, past what it can use. The
   * format node unshares writes to its storage: it goes first, once the
   * monitor knows the disk's maximum. */
  execute_json (f.client, "blockdev-del", "{\"node-name\": \"data-fmt\"}");
  command = g_strdup_printf ("qemu-io data-lim \"write -P 0x11 %" G_GUINT64_FORMAT " 64k\"", 32 * (guint64) MiB);
  hmp (f.client, command);
  WAIT_FOR (&f, f.errors->len > 0, "the monitor's error");
  error = f.errors->pdata[0];
  g_assert_error (error, QMP_ERROR, QMP_ERROR_IMPROBABLE_ALLOCATION);
  g_assert_cmpint (qmp_thin_disk_get_state (f.disk), ==, QMP_THIN_DISK_STATE_DISABLED);
  run_for (300);
  g_assert_cmpuint (f.n_needs, ==, 0);
  g_assert_cmpuint (f.errors->len, ==, 1);
  fixture_stop (&f);
}

/* ------------------------------------------------------------------------ */
/* 6. The estimate is qemu-img measure's "fully allocated size" */

static void
test_estimate (void)
{
  static const guint64 sizes[] = {
    16 * (guint64) MiB, 1000 * (guint64) MiB + 512, 10 * 1024 * (guint64) MiB,
    1024 * 1024 * (guint64) MiB, 4 * 1024 * 1024 * (guint64) MiB + 65536 * 3,
  };
  static const guint64 clusters[] = { 4096, 65536, 2 * MiB };
  g_autofree char *qemu_img = NULL;
  guint n = 0;

  if (!qmp_test_qemu_require ())
    return;
  qemu_img = qmp_test_qemu_find_tool ("qemu-img");
  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    for (gsize j = 0; j < G_N_ELEMENTS (clusters); j++)
      {
        g_autofree char *size = g_strdup_printf ("%" G_GUINT64_FORMAT, sizes[i]);
        g_autofree char *options = g_strdup_printf ("cluster_size=%" G_GUINT64_FORMAT, clusters[j]);
        const char *argv[] = { qemu_img, "measure", "-O", "qcow2", "--output=json", "-o", options,
                               "--size", size, NULL };
        g_autofree char *out = NULL;
        g_autoptr(JsonNode) parsed = NULL;
        guint64 measured;

        run_tool_output (argv, &out);
        parsed = json_from_string (out, NULL);
        g_assert_nonnull (parsed);
        measured = (guint64) json_object_get_int_member (json_node_get_object (parsed), "fully-allocated");
        if (qmp_thin_estimate_maximum_size ("qcow2", sizes[i], clusters[j]) != measured)
          g_error ("size %s, cluster %" G_GUINT64_FORMAT ": estimate %" G_GUINT64_FORMAT
                   ", qemu-img measure %" G_GUINT64_FORMAT, size, clusters[j],
                   qmp_thin_estimate_maximum_size ("qcow2", sizes[i], clusters[j]), measured);
        n++;
      }
  g_test_message ("%u sizes and cluster sizes: the estimate is qemu-img measure's", n);
}

/* ------------------------------------------------------------------------ */
/* 7. Pauses on I/O errors: the retry policy, a user's pause, the limit */

typedef struct {
  Fixture *f;
  GArray *at;                   /* gint64: monotonic time of each retry */
  guint paused_before;          /* retries that came while paused on an error */
} Retries;

static void
on_retry (GObject    *object,
          GParamSpec *pspec,
          gpointer    user_data)
{
  Retries *retries = user_data;
  gint64 now = g_get_monotonic_time ();

  g_array_append_val (retries->at, now);
}

static void
on_stop_reason (QmpClient     *client,
                QmpStopReason *reason,
                gpointer       user_data)
{
  Retries *retries = user_data;

  /* Paused on the error again after the last retry. */
  if (qmp_stop_reason_get_kind (reason) == QMP_STOP_KIND_IO_ERROR)
    retries->paused_before = retries->at->len;
}

static void
test_io_error_retry (void)
{
  const char *args[] = { GUEST, DATA_STACK_EIO ("50331648"), DATA_DEVICE ("stop"), NULL };
  Fixture f = { 0, };
  Retries retries = { &f, g_array_new (FALSE, FALSE, sizeof (gint64)), 0 };
  g_autoptr(GError) error = NULL;
  GString *gaps = g_string_new (NULL);
  gint64 start;
  guint n;

  if (!fixture_start (&f, args, TRUE, VIRTUAL_MIB))
    {
      g_array_unref (retries.at);
      g_string_free (gaps, TRUE);
      return;
    }
  stack_add (&f, "data-file", "data-lim", 48 * MiB)->watched = TRUE;
  f.disk = qmp_thin_monitor_add_disk (f.monitor, "data-file", 48 * MiB, CHUNK, QMP_THIN_DEFAULT_FREE_PERCENT);
  g_signal_connect (f.monitor, "notify::n-io-error-retries", G_CALLBACK (on_retry), &retries);
  g_signal_connect_after (f.client, "stop-reason-changed", G_CALLBACK (on_stop_reason), &retries);
  reopen_limit (f.client, "data-lim", "data-eio", 48 * MiB);

  /* Left paused: told once that it lasts. */
  qmp_thin_monitor_set_pause_limit (f.monitor, 200);
  start = start_guest (&f);
  WAIT_FOR (&f, f.n_too_long > 0, "paused-too-long");
  g_assert_cmpint (f.too_long_kind, ==, QMP_STOP_KIND_IO_ERROR);
  run_for (600);
  g_assert_cmpuint (f.n_too_long, ==, 1);
  g_assert_cmpuint (qmp_thin_monitor_get_n_io_error_retries (f.monitor), ==, 0);
  g_assert_cmpint (run_state (f.client), ==, QMP_RUN_STATE_IO_ERROR);
  qmp_thin_monitor_set_pause_limit (f.monitor, 0);

  /* Retried with growing waits while the storage keeps failing. */
  g_object_set (f.monitor, "io-error-retry-delay", 50, "io-error-retry-max-delay", 400, NULL);
  qmp_thin_monitor_set_io_error_policy (f.monitor, QMP_IO_ERROR_POLICY_RETRY);
  WAIT_FOR (&f, retries.at->len >= 5 && retries.paused_before == retries.at->len,
            "five retries, the VM paused on the error again");
  for (guint i = 1; i < retries.at->len; i++)
    g_string_append_printf (gaps, " %.0f", (g_array_index (retries.at, gint64, i) -
                                            g_array_index (retries.at, gint64, i - 1)) / 1e3);
  g_test_message ("QEMU %s: %u retries while the storage failed, %s ms apart", qmp_client_get_qemu_version (f.client),
                  retries.at->len, gaps->str);
  g_string_free (gaps, TRUE);
  /* The waits are lower bounds: 50, 100, 200, 400, 400 ms. */
  for (guint i = 1; i < retries.at->len; i++)
    g_assert_cmpint (g_array_index (retries.at, gint64, i) - g_array_index (retries.at, gint64, i - 1), >=,
                     MIN (50 << i, 400) * 1000);
  g_assert_cmpint (run_state (f.client), ==, QMP_RUN_STATE_IO_ERROR);

  /* The storage is back: the next retry resumes the guest for good. */
  n = qmp_thin_monitor_get_n_io_error_retries (f.monitor);
  reopen_limit (f.client, "data-lim", "data-file", 48 * MiB);
  WAIT_FOR (&f, guest_done (&f), "the guest's DONE");
  g_assert_cmpuint (qmp_thin_monitor_get_n_io_error_retries (f.monitor), ==, n + 1);
  g_test_message ("the guest finished %.2f s after it started, after %u retries",
                  (g_get_monotonic_time () - start) / 1e6, n + 1);

  /* A user's pause is never resumed, nor told. */
  g_assert_true (qmp_client_stop_sync (f.client, NULL, &error));
  g_assert_no_error (error);
  qmp_thin_monitor_set_pause_limit (f.monitor, 100);
  run_for (1000);
  g_assert_cmpint (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f.client)), ==,
                   QMP_STOP_KIND_PAUSED_BY_USER);
  g_assert_cmpint (run_state (f.client), ==, QMP_RUN_STATE_PAUSED);
  g_assert_cmpuint (qmp_thin_monitor_get_n_io_error_retries (f.monitor), ==, n + 1);
  g_assert_cmpuint (f.n_too_long, ==, 1);
  g_assert_true (qmp_client_cont_sync (f.client, NULL, &error));
  g_assert_no_error (error);

  quit_and_check (&f, "data.qcow2");
  g_array_unref (retries.at);
  fixture_stop (&f);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_data_func ("/qmp/thin-graph/snapshot/refresh", GINT_TO_POINTER (SNAPSHOT_REFRESH), test_snapshot);
  g_test_add_data_func ("/qmp/thin-graph/snapshot/found-by-poll", GINT_TO_POINTER (SNAPSHOT_POLL), test_snapshot);
  g_test_add_data_func ("/qmp/thin-graph/snapshot/found-by-pause", GINT_TO_POINTER (SNAPSHOT_PAUSE), test_snapshot);
  g_test_add_data_func ("/qmp/thin-graph/snapshot/sync", GINT_TO_POINTER (SNAPSHOT_SYNC), test_snapshot);
  g_test_add_func ("/qmp/thin-graph/commit", test_commit);
  g_test_add_func ("/qmp/thin-graph/mirror", test_mirror);
  g_test_add_func ("/qmp/thin-graph/poll/lost-event", test_lost_event);
  g_test_add_func ("/qmp/thin-graph/guard/improbable-allocation", test_improbable);
  g_test_add_func ("/qmp/thin-graph/estimate/qemu-img-measure", test_estimate);
  g_test_add_func ("/qmp/thin-graph/pauses/io-error-retry", test_io_error_retry);

  return g_test_run ();
}
