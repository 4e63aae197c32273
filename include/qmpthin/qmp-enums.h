/* qmp-enums.h: enumerations of the libqmpthin API
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(__QMPTHIN_INSIDE__) && !defined(QMPTHIN_COMPILATION)
#error "Only <qmpthin/qmpthin.h> can be included directly."
#endif

#include <glib.h>

G_BEGIN_DECLS

/**
 * SECTION:qmp-enums
 * @Title: Enumerations
 * @Short_description: Enumerations of the libqmpthin API
 *
 * Every enumeration is registered as a #GEnum type (for example
 * QMP_TYPE_CLIENT_STATE), so that it can be used in properties and from
 * bindings.
 */

/**
 * QmpClientState:
 * @QMP_CLIENT_STATE_DISCONNECTED: not connected: never yet, or the last
 *   attempt to connect failed (#QmpClient:auto-reconnect may be waiting
 *   to try again)
 * @QMP_CLIENT_STATE_CONNECTING: opening the connection and waiting for
 *   QEMU's greeting
 * @QMP_CLIENT_STATE_NEGOTIATING: the greeting was read, `qmp_capabilities`
 *   is in flight
 * @QMP_CLIENT_STATE_SYNCING: negotiated; reading QEMU's current state
 *   before the client is declared ready
 * @QMP_CLIENT_STATE_READY: commands can be executed and events are delivered
 * @QMP_CLIENT_STATE_CLOSED: the connection was closed, by the caller or by
 *   the peer; the reason is given by #QmpClient::disconnected
 *
 * The life cycle of a #QmpClient connection, published as
 * #QmpClient:state.
 *
 * Since: 1.0
 */
typedef enum {
  QMP_CLIENT_STATE_DISCONNECTED,
  QMP_CLIENT_STATE_CONNECTING,
  QMP_CLIENT_STATE_NEGOTIATING,
  QMP_CLIENT_STATE_SYNCING,
  QMP_CLIENT_STATE_READY,
  QMP_CLIENT_STATE_CLOSED,
} QmpClientState;

/**
 * QmpIoStatus:
 * @QMP_IO_STATUS_NONE: QEMU reported no I/O status: the device has no
 *   error policy that stops the VM (werror and rerror are `report` or
 *   `ignore`), so QEMU does not track it
 * @QMP_IO_STATUS_OK: no error since the status was last reset
 * @QMP_IO_STATUS_FAILED: an I/O error other than a full disk
 * @QMP_IO_STATUS_NOSPACE: a write failed because the storage is full
 * @QMP_IO_STATUS_UNKNOWN: a status this version of the library does not know
 *
 * The `io-status` of a block device in `query-block`.
 *
 * With `-blockdev` and `-device`, QEMU 7.2 never resets the status of the
 * device's anonymous block backend: it stays %QMP_IO_STATUS_NOSPACE after
 * a successful `cont`, and a later error of another kind still shows
 * %QMP_IO_STATUS_NOSPACE. Trust it only while the VM is paused on an I/O
 * error, and prefer the `BLOCK_IO_ERROR` event when one was received.
 *
 * Since: 1.0
 */
typedef enum {
  QMP_IO_STATUS_NONE,
  QMP_IO_STATUS_OK,
  QMP_IO_STATUS_FAILED,
  QMP_IO_STATUS_NOSPACE,
  QMP_IO_STATUS_UNKNOWN,
} QmpIoStatus;

/**
 * QmpIoOperation:
 * @QMP_IO_OPERATION_READ: a read failed
 * @QMP_IO_OPERATION_WRITE: a write failed
 * @QMP_IO_OPERATION_UNKNOWN: an operation this version of the library does
 *   not know, or QEMU sent none
 *
 * The operation of a `BLOCK_IO_ERROR` event.
 *
 * Since: 1.0
 */
typedef enum {
  QMP_IO_OPERATION_READ,
  QMP_IO_OPERATION_WRITE,
  QMP_IO_OPERATION_UNKNOWN,
} QmpIoOperation;

/**
 * QmpBlockErrorAction:
 * @QMP_BLOCK_ERROR_ACTION_REPORT: the error was reported to the guest
 * @QMP_BLOCK_ERROR_ACTION_IGNORE: the error was ignored
 * @QMP_BLOCK_ERROR_ACTION_STOP: the VM was paused; the request waits to be
 *   retried on `cont`
 * @QMP_BLOCK_ERROR_ACTION_UNKNOWN: an action this version of the library
 *   does not know, or QEMU sent none
 *
 * What QEMU did about the error of a `BLOCK_IO_ERROR` event.
 *
 * Since: 1.0
 */
typedef enum {
  QMP_BLOCK_ERROR_ACTION_REPORT,
  QMP_BLOCK_ERROR_ACTION_IGNORE,
  QMP_BLOCK_ERROR_ACTION_STOP,
  QMP_BLOCK_ERROR_ACTION_UNKNOWN,
} QmpBlockErrorAction;

/**
 * QmpRunState:
 * @QMP_RUN_STATE_DEBUG: stopped by a debugger
 * @QMP_RUN_STATE_INMIGRATE: waiting for an incoming migration
 * @QMP_RUN_STATE_INTERNAL_ERROR: stopped by an internal error (for example
 *   a KVM failure)
 * @QMP_RUN_STATE_IO_ERROR: paused by a disk error whose error policy is
 *   `stop` or `enospc`
 * @QMP_RUN_STATE_PAUSED: paused by a `stop` command or the monitor
 * @QMP_RUN_STATE_POSTMIGRATE: paused after migrating away
 * @QMP_RUN_STATE_PRELAUNCH: started with `-S` and not resumed yet
 * @QMP_RUN_STATE_FINISH_MIGRATE: paused to finish a migration
 * @QMP_RUN_STATE_RESTORE_VM: paused while a snapshot is loaded
 * @QMP_RUN_STATE_RUNNING: running
 * @QMP_RUN_STATE_SAVE_VM: paused while a snapshot is saved
 * @QMP_RUN_STATE_SHUTDOWN: shut down (with `-no-shutdown`)
 * @QMP_RUN_STATE_SUSPENDED: suspended by the guest (ACPI S3)
 * @QMP_RUN_STATE_WATCHDOG: paused by a watchdog
 * @QMP_RUN_STATE_GUEST_PANICKED: the guest panicked
 * @QMP_RUN_STATE_COLO: paused for a COLO checkpoint
 * @QMP_RUN_STATE_PRECONFIG: waiting for configuration (`--preconfig`)
 * @QMP_RUN_STATE_UNKNOWN: a state this version of the library does not know
 *
 * The run state of a VM, as `query-status` reports it.
 *
 * Since: 1.0
 */
typedef enum {
  QMP_RUN_STATE_DEBUG,
  QMP_RUN_STATE_INMIGRATE,
  QMP_RUN_STATE_INTERNAL_ERROR,
  QMP_RUN_STATE_IO_ERROR,
  QMP_RUN_STATE_PAUSED,
  QMP_RUN_STATE_POSTMIGRATE,
  QMP_RUN_STATE_PRELAUNCH,
  QMP_RUN_STATE_FINISH_MIGRATE,
  QMP_RUN_STATE_RESTORE_VM,
  QMP_RUN_STATE_RUNNING,
  QMP_RUN_STATE_SAVE_VM,
  QMP_RUN_STATE_SHUTDOWN,
  QMP_RUN_STATE_SUSPENDED,
  QMP_RUN_STATE_WATCHDOG,
  QMP_RUN_STATE_GUEST_PANICKED,
  QMP_RUN_STATE_COLO,
  QMP_RUN_STATE_PRECONFIG,
  QMP_RUN_STATE_UNKNOWN,
} QmpRunState;

/**
 * QmpStopKind:
 * @QMP_STOP_KIND_RUNNING: the VM runs
 * @QMP_STOP_KIND_NOSPACE: paused because a disk's storage is full: extend
 *   it, then resume
 * @QMP_STOP_KIND_IO_ERROR: paused by a disk error other than a full disk
 * @QMP_STOP_KIND_PAUSED_BY_USER: paused by a `stop` command
 * @QMP_STOP_KIND_SHUTDOWN: the guest shut down (QEMU runs with
 *   `-no-shutdown`)
 * @QMP_STOP_KIND_GUEST_PANICKED: the guest panicked
 * @QMP_STOP_KIND_WATCHDOG: a watchdog paused the VM
 * @QMP_STOP_KIND_MIGRATION: paused for, or after, a migration
 * @QMP_STOP_KIND_DEBUG: stopped by a debugger
 * @QMP_STOP_KIND_PRELAUNCH: started paused (`-S`) and not resumed yet
 * @QMP_STOP_KIND_SUSPENDED: the guest suspended itself (ACPI S3)
 * @QMP_STOP_KIND_INTERNAL_ERROR: stopped by an internal error
 * @QMP_STOP_KIND_NOT_APPLICABLE: the server has no run state
 *   (qemu-storage-daemon)
 * @QMP_STOP_KIND_UNKNOWN: paused for a reason the library cannot tell
 *
 * Why a VM is not running, as #QmpStopReason tells.
 *
 * Since: 1.0
 */
typedef enum {
  QMP_STOP_KIND_RUNNING,
  QMP_STOP_KIND_NOSPACE,
  QMP_STOP_KIND_IO_ERROR,
  QMP_STOP_KIND_PAUSED_BY_USER,
  QMP_STOP_KIND_SHUTDOWN,
  QMP_STOP_KIND_GUEST_PANICKED,
  QMP_STOP_KIND_WATCHDOG,
  QMP_STOP_KIND_MIGRATION,
  QMP_STOP_KIND_DEBUG,
  QMP_STOP_KIND_PRELAUNCH,
  QMP_STOP_KIND_SUSPENDED,
  QMP_STOP_KIND_INTERNAL_ERROR,
  QMP_STOP_KIND_NOT_APPLICABLE,
  QMP_STOP_KIND_UNKNOWN,
} QmpStopKind;

/**
 * QmpThinDiskState:
 * @QMP_THIN_DISK_STATE_UNSET: no threshold armed yet: the client is not
 *   ready, or arming is in flight
 * @QMP_THIN_DISK_STATE_ARMED: the threshold is armed and the allocation is
 *   below it
 * @QMP_THIN_DISK_STATE_EXCEEDED: the disk needs more storage:
 *   #QmpThinMonitor::extend-needed was emitted, or the last extension
 *   failed
 * @QMP_THIN_DISK_STATE_EXTENDING: the consumer extended the storage; the
 *   monitor re-arms the threshold and checks the allocation
 * @QMP_THIN_DISK_STATE_DISABLED: not watched: the node cannot be armed (it
 *   does not exist), the disk reached its #QmpThinDisk:maximum-size, or it
 *   was removed from its monitor
 *
 * Where a #QmpThinDisk stands in the high-water-mark cycle.
 *
 * Since: 1.0
 */
typedef enum {
  QMP_THIN_DISK_STATE_UNSET,
  QMP_THIN_DISK_STATE_ARMED,
  QMP_THIN_DISK_STATE_EXCEEDED,
  QMP_THIN_DISK_STATE_EXTENDING,
  QMP_THIN_DISK_STATE_DISABLED,
} QmpThinDiskState;

/**
 * QmpExtendReason:
 * @QMP_EXTEND_REASON_THRESHOLD: the allocation crossed the threshold (a
 *   `BLOCK_WRITE_THRESHOLD` event, or the allocation was past it when it
 *   was armed): extend before the storage runs out
 * @QMP_EXTEND_REASON_NOSPACE: the storage ran out and the VM paused (a
 *   `BLOCK_IO_ERROR` event with `nospace`): extend, the monitor resumes it
 * @QMP_EXTEND_REASON_MISSED: it happened while no client was connected:
 *   resync derived it after a (re)connection
 *
 * Why #QmpThinMonitor::extend-needed was emitted.
 *
 * Since: 1.0
 */
typedef enum {
  QMP_EXTEND_REASON_THRESHOLD,
  QMP_EXTEND_REASON_NOSPACE,
  QMP_EXTEND_REASON_MISSED,
} QmpExtendReason;

/**
 * QmpIoErrorPolicy:
 * @QMP_IO_ERROR_POLICY_LEAVE_PAUSED: a VM paused on an I/O error stays
 *   paused until somebody resumes it
 * @QMP_IO_ERROR_POLICY_RETRY: the monitor resumes a VM paused on an I/O
 *   error (not for lack of space, never a user's pause) with `cont`, after
 *   a delay that doubles while the error comes back, so that a failure
 *   that cleared (a storage path that came back) costs one short pause
 *
 * What #QmpThinMonitor does with a VM paused on an ordinary I/O error
 * (#QMP_STOP_KIND_IO_ERROR): #QmpThinMonitor:io-error-policy.
 *
 * Since: 1.0
 */
typedef enum {
  QMP_IO_ERROR_POLICY_LEAVE_PAUSED,
  QMP_IO_ERROR_POLICY_RETRY,
} QmpIoErrorPolicy;

/**
 * QmpThinSizing:
 * @QMP_THIN_SIZING_FIXED: every extension adds #QmpThinDisk:chunk-size and
 *   the threshold leaves chunk-size × (100 − free-percent) / 100 of room,
 *   vdsm's rule
 * @QMP_THIN_SIZING_ADAPTIVE: the extension and the room left at the
 *   threshold grow with the write rate and the extension latency the
 *   monitor measured, never below what %QMP_THIN_SIZING_FIXED gives (see
 *   the chapter on thin provisioning)
 *
 * How #QmpThinMonitor sizes the extensions and thresholds of a disk:
 * #QmpThinDisk:sizing.
 *
 * Since: 1.0
 */
typedef enum {
  QMP_THIN_SIZING_FIXED,
  QMP_THIN_SIZING_ADAPTIVE,
} QmpThinSizing;

/**
 * QmpThinPhase:
 * @QMP_THIN_PHASE_NOTICE: from the moment a threshold fired (the
 *   timestamp of QEMU's `BLOCK_WRITE_THRESHOLD`) to
 *   #QmpThinMonitor::extend-needed
 * @QMP_THIN_PHASE_EXTEND: from #QmpThinMonitor::extend-needed to
 *   qmp_thin_monitor_extended(): the consumer's back end
 * @QMP_THIN_PHASE_REARM: from qmp_thin_monitor_extended() to the new
 *   threshold armed and the allocation checked against it
 * @QMP_THIN_PHASE_PAUSE: a pause of the VM for lack of space, from the
 *   moment the monitor saw it to the moment it saw it end
 *
 * The phases of an extension that #QmpThinMonitor times: see
 * qmp_thin_disk_get_timing() and qmp_thin_monitor_get_timing().
 *
 * Since: 1.0
 */
typedef enum {
  QMP_THIN_PHASE_NOTICE,
  QMP_THIN_PHASE_EXTEND,
  QMP_THIN_PHASE_REARM,
  QMP_THIN_PHASE_PAUSE,
} QmpThinPhase;

G_END_DECLS
