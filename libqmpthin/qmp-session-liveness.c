/* qmp-session-liveness.c: whether QEMU still answers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A QEMU whose monitor is open but silent (stopped, or wedged in a device
 * model while holding its big lock) looks, from the socket, like a QEMU
 * that is slow to answer a command. With a liveness interval set, the
 * session tells them apart by asking: once QEMU has said nothing for an
 * interval, a probe (the cheapest command every QEMU and
 * qemu-storage-daemon has) goes out through the ordinary path, and when
 * QEMU lets an interval go by without answering it, it is silent. Anything
 * QEMU sends (a reply, an event) counts as an answer, and pushes the next
 * probe back: a busy connection is never probed. Commands in flight keep
 * their own timeouts; liveness fails nothing.
 *
 * Cheap when idle, for a thousand clients in one context: reading a
 * message stores the time and nothing else; no source is made or moved
 * per message. The check runs from the session's dispatch source, whose
 * ready time is also the calls' timer: it is due at one time, and when it
 * is run early (by traffic) it returns at once, and when it is run late it
 * looks at when QEMU last spoke and sets the next time. The times are
 * rounded down to an eighth of the interval, on a grid every client of the
 * process shares, so that the checks of many idle clients fall in the
 * same main loop iteration instead of one wake-up each.
 */

#include "qmp-debug.h"
#include "qmp-session-private.h"

/* Run by QEMU's main loop like any command, so it is answered only when
 * QEMU is; in every QEMU since 3.0 and in qemu-storage-daemon (an older
 * QEMU's CommandNotFound is as good an answer). With no block job running
 * its reply is the shortest there is, `{"return": [], "id": …}`: against
 * query-version's 121 bytes it costs the client a fifth less CPU per
 * probe (bench/qmpthin-bench liveness, 1000 idle VMs). */
#define LIVENESS_PROBE "query-jobs"

/* The checks' grid: this fraction of the interval. */
#define LIVENESS_GRID_DIVISOR 8

guint
_qmp_session_get_liveness_interval (QmpSession *self)
{
  return self->liveness_interval;
}

gboolean
_qmp_session_get_responsive (QmpSession *self)
{
  return self->responsive;
}

/* Whether QEMU answers, as far as the session knows: it is connected and
 * ready, and was not found silent. */
void
_qmp_session_update_responsive (QmpSession *self)
{
  gboolean responsive = self->state == QMP_CLIENT_STATE_READY && !self->silent;

  if (self->responsive == responsive)
    return;
  self->responsive = responsive;
  _qmp_debug ("%s: %s", _qmp_session_get_name (self),
              responsive ? "QEMU answers" : "QEMU does not answer");
  g_main_context_push_thread_default (self->context);
  self->hooks.responsive_changed (self->owner);
  g_main_context_pop_thread_default (self->context);
}

/* @time rounded down to the grid of @interval_us. */
static gint64
grid_floor (gint64 time,
            gint64 interval_us)
{
  gint64 grid = MAX (interval_us / LIVENESS_GRID_DIVISOR, 1);

  return time - time % grid;
}

static void
set_wake (QmpSession *self,
          gint64      time)
{
  self->liveness_wake = time;
  _qmp_calls_set_owner_wake (self->calls, time);
}

/* A new connection, or none: nothing owed, nothing heard yet, the clock
 * starts now. The probe of a connection that ended failed with it. */
void
_qmp_session_liveness_reset (QmpSession *self)
{
  self->heard = g_get_monotonic_time ();
  self->probe_sent = 0;
  self->silent = FALSE;
  set_wake (self, -1);
}

static void
send_probe (QmpSession *self,
            gint64      now)
{
  g_autoptr(GTask) task = NULL;

  /* Nobody waits for it, and it does not keep the owner: a task with no
   * source object and no callback, in the owner's context. */
  g_main_context_push_thread_default (self->context);
  task = g_task_new (NULL, NULL, NULL, NULL);
  g_main_context_pop_thread_default (self->context);
  g_task_set_source_tag (task, send_probe);
  self->probe_sent = now;
  _qmp_session_execute (self, LIVENESS_PROBE, NULL, 0, QMP_CALL_PROBE, NULL, task);
}

/* From the dispatch source (and when the interval or the connection
 * changes): probes a connection that has been quiet for an interval,
 * finds QEMU silent when a probe went unanswered for an interval, and sets
 * when to look again. */
void
_qmp_session_liveness_check (QmpSession *self)
{
  gint64 now, interval_us, since, due;

  if (self->liveness_interval == 0)
    return;
  if (self->silent && self->heard != self->silent_heard)
    {
      /* QEMU spoke again. */
      self->silent = FALSE;
      _qmp_session_update_responsive (self);
    }
  if (self->state != QMP_CLIENT_STATE_READY || self->channel == NULL)
    {
      if (self->liveness_wake >= 0)
        set_wake (self, -1);
      return;
    }

  now = g_get_monotonic_time ();
  if (self->liveness_wake >= 0 && now < self->liveness_wake)
    return;
  interval_us = (gint64) self->liveness_interval * 1000;

  if (self->probe_sent == 0)
    {
      due = grid_floor (self->heard + interval_us, interval_us);
      if (now < due)
        {
          set_wake (self, due);
          return;
        }
      send_probe (self, now);
      if (self->channel == NULL)
        return;
    }

  /* QEMU owes the probe's answer since it went out, or since it last
   * spoke if that was later. */
  since = MAX (self->probe_sent, self->heard);
  due = grid_floor (since + interval_us, interval_us);
  if (now < due)
    {
      set_wake (self, due);
      return;
    }
  /* Nothing to look at until QEMU speaks: reading wakes the dispatch. */
  set_wake (self, -1);
  if (!self->silent)
    {
      self->silent = TRUE;
      self->silent_heard = self->heard;
      _qmp_debug ("%s: no answer from QEMU for %" G_GINT64_FORMAT " ms",
                  _qmp_session_get_name (self), (now - since) / 1000);
      _qmp_session_update_responsive (self);
    }
}

/* 0 turns liveness off: QEMU counts as answering while connected. */
void
_qmp_session_set_liveness_interval (QmpSession *self,
                                    guint       interval_ms)
{
  self->liveness_interval = interval_ms;
  /* A probe in flight stays counted: its answer is still owed. */
  self->heard = g_get_monotonic_time ();
  self->silent = FALSE;
  set_wake (self, -1);
  _qmp_session_update_responsive (self);
  _qmp_session_liveness_check (self);
}
