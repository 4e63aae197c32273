/* qmp-reactor.c: one epoll source per main context for many sockets
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A GMainContext polls every descriptor of every source on every
 * iteration, and runs every source's prepare and check: with a socket
 * source per client, an agent with a thousand VMs paid for a thousand
 * descriptors each time one event arrived. Here the clients of a context
 * share one source whose only descriptor is an epoll instance: an
 * iteration costs what is ready, not what is open.
 *
 * Linux only; elsewhere _qmp_watch_new() returns NULL and the client keeps
 * a socket source of its own.
 */

#include "qmp-reactor.h"

#ifdef __linux__
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>
#endif

#ifdef __linux__

/* Descriptors taken from the epoll instance per dispatch; more wait for
 * the next iteration (level-triggered, nothing is lost). */
#define REACTOR_BATCH 64

typedef struct
{
  GSource source;
  int epfd;
  GMainContext *context;        /* unowned: the clients hold it */
  guint n_watches;
} QmpReactor;

struct _QmpWatch
{
  guint ref_count;              /* the registration, and a dispatch in progress */
  QmpReactor *reactor;          /* NULL once freed */
  int fd;
  QmpWatchFunc func;            /* NULL once freed */
  gpointer user_data;
};

/* The reactor of each context that has watches. Contexts may run in
 * different threads; a reactor and its watches are used in its context's. */
static GMutex reactors_lock;
static GHashTable *reactors;

static QmpWatch *
watch_ref (QmpWatch *watch)
{
  watch->ref_count++;
  return watch;
}

static void
watch_unref (QmpWatch *watch)
{
  if (--watch->ref_count == 0)
    g_free (watch);
}

static gboolean
reactor_dispatch (GSource     *source,
                  GSourceFunc  callback,
                  gpointer     user_data)
{
  QmpReactor *self = (QmpReactor *) source;
  struct epoll_event events[REACTOR_BATCH];
  QmpWatch *ready[REACTOR_BATCH];
  int n;

  do
    n = epoll_wait (self->epfd, events, REACTOR_BATCH, 0);
  while (n < 0 && errno == EINTR);

  /* A callback may free any watch, its own or another client's: each
   * one taken stays valid until the batch is done. */
  for (int i = 0; i < n; i++)
    ready[i] = watch_ref (events[i].data.ptr);
  for (int i = 0; i < n; i++)
    if (ready[i]->func != NULL)
      ready[i]->func (ready[i]->user_data);
  for (int i = 0; i < n; i++)
    watch_unref (ready[i]);

  return G_SOURCE_CONTINUE;
}

static void
reactor_finalize (GSource *source)
{
  QmpReactor *self = (QmpReactor *) source;

  if (self->epfd >= 0)
    close (self->epfd);
}

static GSourceFuncs reactor_funcs = {
  .dispatch = reactor_dispatch,
  .finalize = reactor_finalize,
};

static QmpReactor *
reactor_get (GMainContext *context)
{
  QmpReactor *self;
  int epfd;

  g_mutex_lock (&reactors_lock);
  if (reactors == NULL)
    reactors = g_hash_table_new (NULL, NULL);
  self = g_hash_table_lookup (reactors, context);
  g_mutex_unlock (&reactors_lock);
  if (self != NULL)
    return self;

  epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (epfd < 0)
    return NULL;

  self = (QmpReactor *) g_source_new (&reactor_funcs, sizeof (QmpReactor));
  self->epfd = epfd;
  self->context = context;
  g_source_add_unix_fd (&self->source, epfd, G_IO_IN);
  /* A handler may run a nested loop on the context: its clients must
   * still be read. */
  g_source_set_can_recurse (&self->source, TRUE);
  g_source_set_static_name (&self->source, "[qmpthin] sockets");
  g_source_attach (&self->source, context);

  g_mutex_lock (&reactors_lock);
  g_hash_table_insert (reactors, context, self);
  g_mutex_unlock (&reactors_lock);
  return self;
}

static void
reactor_release (QmpReactor *self)
{
  if (--self->n_watches > 0)
    return;

  g_mutex_lock (&reactors_lock);
  g_hash_table_remove (reactors, self->context);
  g_mutex_unlock (&reactors_lock);
  g_source_destroy (&self->source);
  g_source_unref (&self->source);
}

QmpWatch *
_qmp_watch_new (GMainContext *context,
               int           fd,
               QmpWatchFunc  func,
               gpointer      user_data)
{
  QmpReactor *reactor = reactor_get (context);
  struct epoll_event event = { 0, };
  QmpWatch *watch;

  if (reactor == NULL)
    return NULL;

  watch = g_new0 (QmpWatch, 1);
  watch->ref_count = 1;
  watch->reactor = reactor;
  watch->fd = fd;
  watch->func = func;
  watch->user_data = user_data;

  event.events = EPOLLIN | EPOLLRDHUP;
  event.data.ptr = watch;
  reactor->n_watches++;
  if (epoll_ctl (reactor->epfd, EPOLL_CTL_ADD, fd, &event) < 0)
    {
      /* Not a descriptor epoll takes: the caller polls it itself. */
      reactor_release (reactor);
      g_free (watch);
      return NULL;
    }
  return watch;
}

void
_qmp_watch_free (QmpWatch *watch)
{
  if (watch == NULL)
    return;

  /* Before the descriptor is closed; if it was already, the kernel has
   * dropped it from the set and this fails harmlessly. */
  epoll_ctl (watch->reactor->epfd, EPOLL_CTL_DEL, watch->fd, NULL);
  reactor_release (watch->reactor);
  watch->reactor = NULL;
  watch->func = NULL;
  watch_unref (watch);
}

#else /* !__linux__ */

QmpWatch *
_qmp_watch_new (GMainContext *context,
               int           fd,
               QmpWatchFunc  func,
               gpointer      user_data)
{
  return NULL;
}

void
_qmp_watch_free (QmpWatch *watch)
{
  g_return_if_fail (watch == NULL);
}

#endif
