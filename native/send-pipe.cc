// The send pipe of a byte thread (src/blobstore/encrypted/open-pipe.ts, loaded by
// send-pipe-addon.ts): a thread of this addon writes a download's pieces to its client's socket
// (a dup of its fd, made by native/sock-send.cc) while the byte thread opens the next ones, so one
// download's decipher and its send(2)s run at once instead of in turn. send(2) with MSG_NOSIGNAL |
// MSG_DONTWAIT: a reset peer is an errno reported, never a signal, and a full socket never blocks.
#include <node_api.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "napi-args.h"

namespace {

// One pipe per byte thread (created by pipe(onDone)). A piece is queued with pipeSend; the pipe's
// thread writes every queued piece as far as its socket takes it, waits in poll(2) only when every
// piece waits on a full socket (a stalled client holds a poll entry, never a thread), and calls
// onDone(job, written, errno) on the byte thread once a piece is written whole or failed.
// pipeCancel takes a piece back before its download is dropped: once it returns, the pipe no
// longer touches that piece's fd or memory (it waits out a send(2) in progress, which never blocks).
struct Job {
  double id;
  int fd;
  const uint8_t* from;
  size_t len;
  size_t done;
  bool busy;
  bool blocked;
  bool cancelled;
};

struct Done {
  double id;
  double written;
  int err;
};

struct Pipe {
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t idle = PTHREAD_COND_INITIALIZER;
  std::vector<Job*> jobs;
  int wake = -1;
  bool stop = false;
  // In poll(2) (or about to be): a new job must wake it; otherwise it sees new jobs on its next look.
  bool sleeping = false;
  pthread_t thread;
  napi_threadsafe_function tsfn = nullptr;
  // Run as SCHED_BATCH (pipe's `batch`): see pipe_main.
  bool batch = false;
};

void call_done(napi_env env, napi_value cb, void*, void* data) {
  Done* d = static_cast<Done*>(data);
  if (env != nullptr && cb != nullptr) {
    napi_value args[3], undefined;
    napi_create_double(env, d->id, &args[0]);
    napi_create_double(env, d->written, &args[1]);
    napi_create_int32(env, d->err, &args[2]);
    napi_get_undefined(env, &undefined);
    napi_call_function(env, undefined, cb, 3, args, nullptr);
  }
  delete d;
}

// Writes what the socket takes of one job (called without the lock, the job marked busy): 0 when
// done or the socket is full, else an errno.
int write_job(Job* j) {
  while (j->done < j->len) {
    ssize_t n = send(j->fd, j->from + j->done, j->len - j->done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        j->blocked = true;
        return 0;
      }
      return errno;
    }
    j->done += static_cast<size_t>(n);
  }
  return 0;
}

void* pipe_main(void* arg) {
  Pipe* p = static_cast<Pipe*>(arg);
  // Named, so a profile (and the tests) can tell its sends from the byte thread's.
  pthread_setname_np(pthread_self(), "berth-send");
  // SCHED_BATCH: woken (a piece queued, a socket writable), this thread does not preempt the
  // thread running on that CPU, usually the byte thread that just queued a piece; it runs on an
  // idle CPU, or when that thread sleeps or its slice ends. Preempted at every wake-up, the byte
  // thread switched ~1,900 times per GiB downloaded, and a switch is dear on a paravirtualised
  // guest (notes/2026-12-06-s26-down.md). A refusal (a sandbox) leaves the usual policy.
  if (p->batch) {
    struct sched_param sp = {};
    pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
  }
  std::vector<Job*> turn;
  std::vector<struct pollfd> set;
  pthread_mutex_lock(&p->mu);
  while (!p->stop) {
    // A socket's pieces go in the order queued: only its oldest is written or polled for.
    turn.clear();
    set.clear();
    set.push_back({p->wake, POLLIN, 0});
    for (size_t i = 0; i < p->jobs.size(); i++) {
      Job* j = p->jobs[i];
      bool first = true;
      for (size_t k = 0; k < i && first; k++) first = p->jobs[k]->fd != j->fd;
      if (!first || j->cancelled) continue;
      if (j->blocked) set.push_back({j->fd, POLLOUT, 0});
      else turn.push_back(j);
    }
    if (turn.empty()) {
      // Every piece waits on its socket (or there is none): poll them and the wake-up fd.
      p->sleeping = true;
      pthread_mutex_unlock(&p->mu);
      int r;
      do {
        r = poll(set.data(), set.size(), -1);
      } while (r < 0 && errno == EINTR);
      if (set[0].revents & POLLIN) {
        uint64_t v;
        if (read(p->wake, &v, sizeof v) < 0) {
        }
      }
      pthread_mutex_lock(&p->mu);
      p->sleeping = false;
      // Jobs may have come and gone meanwhile: a job is looked at again if its fd was ready (or
      // failed: the next send says how). New jobs are never blocked yet.
      for (size_t i = 1; i < set.size(); i++) {
        if (set[i].revents == 0) continue;
        for (Job* j : p->jobs)
          if (j->fd == set[i].fd) j->blocked = false;
      }
      continue;
    }
    for (Job* j : turn) j->busy = true;
    pthread_mutex_unlock(&p->mu);
    for (Job* j : turn) {
      int err = write_job(j);
      pthread_mutex_lock(&p->mu);
      j->busy = false;
      bool over = err != 0 || j->done == j->len;
      if (j->cancelled) {
        pthread_cond_broadcast(&p->idle);
      } else if (over) {
        for (size_t i = 0; i < p->jobs.size(); i++)
          if (p->jobs[i] == j) {
            p->jobs.erase(p->jobs.begin() + i);
            break;
          }
        Done* d = new Done{j->id, static_cast<double>(j->done), err};
        delete j;
        if (napi_call_threadsafe_function(p->tsfn, d, napi_tsfn_nonblocking) != napi_ok) delete d;
      }
      pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_lock(&p->mu);
  }
  pthread_mutex_unlock(&p->mu);
  return nullptr;
}

void wake(Pipe* p) {
  uint64_t one = 1;
  if (write(p->wake, &one, sizeof one) < 0) {
  }
}

// The byte thread is going away: the pipe's thread ends first (queued callbacks are dropped).
void pipe_cleanup(void* arg) {
  Pipe* p = static_cast<Pipe*>(arg);
  pthread_mutex_lock(&p->mu);
  p->stop = true;
  pthread_mutex_unlock(&p->mu);
  wake(p);
  pthread_join(p->thread, nullptr);
  for (Job* j : p->jobs) delete j;
  close(p->wake);
  napi_release_threadsafe_function(p->tsfn, napi_tsfn_abort);
  delete p;
}

Pipe* pipe_of(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<Pipe*>(data);
}

// pipe(onDone, batch?: boolean): starts this byte thread's send pipe (once); true, or -errno.
// batch: the pipe's thread runs as SCHED_BATCH (default false).
napi_value pipe_start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  napi_valuetype t;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) return fail(env, "ERR_INVALID_ARG_TYPE", "pipe(onDone, batch?)");
  bool batch = false;
  napi_valuetype bt = napi_undefined;
  if (argc >= 2) napi_typeof(env, argv[1], &bt);
  if (bt != napi_undefined && napi_get_value_bool(env, argv[1], &batch) != napi_ok) return fail(env, "ERR_INVALID_ARG_TYPE", "pipe: batch must be a boolean");
  if (pipe_of(env) != nullptr) return fail(env, "ERR_INVALID_STATE", "pipe: already started on this thread");
  Pipe* p = new Pipe();
  p->batch = batch;
  p->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (p->wake < 0) {
    int e = errno;
    delete p;
    return number(env, -e);
  }
  napi_value name;
  napi_create_string_utf8(env, "berth-send-pipe", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[0], nullptr, name, 0, 1, nullptr, nullptr, nullptr, call_done, &p->tsfn) != napi_ok) {
    close(p->wake);
    delete p;
    return fail(env, "ERR_INVALID_STATE", "pipe: no threadsafe function");
  }
  // The byte thread lives on its message port; the pipe alone must not keep it alive.
  napi_unref_threadsafe_function(env, p->tsfn);
  int e = pthread_create(&p->thread, nullptr, pipe_main, p);
  if (e != 0) {
    napi_release_threadsafe_function(p->tsfn, napi_tsfn_abort);
    close(p->wake);
    delete p;
    return number(env, -e);
  }
  napi_set_instance_data(env, p, nullptr, nullptr);
  napi_add_env_cleanup_hook(env, pipe_cleanup, p);
  napi_value yes;
  napi_get_boolean(env, true, &yes);
  return yes;
}

// pipeSend(job, fd, src: Uint8Array, at, len): queues src[at, at + len) for fd, after the pieces
// queued for fd before it. The caller keeps src alive and its bytes unchanged until onDone(job) or
// pipeCancel(job).
napi_value pipe_send(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  Pipe* p = pipe_of(env);
  if (p == nullptr) return fail(env, "ERR_INVALID_STATE", "pipeSend: no pipe on this thread");
  double id;
  int64_t fd, at, len;
  bool is_typed = false;
  if (argc < 5 || napi_get_value_double(env, argv[0], &id) != napi_ok || !int_of(env, argv[1], &fd) || fd < 0 || fd > INT32_MAX ||
      napi_is_typedarray(env, argv[2], &is_typed) != napi_ok || !is_typed || !int_of(env, argv[3], &at) || !int_of(env, argv[4], &len)) {
    return fail(env, "ERR_INVALID_ARG_TYPE", "pipeSend(job, fd, src, at, len)");
  }
  napi_typedarray_type type;
  size_t length;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, argv[2], &type, &length, &data, nullptr, nullptr) != napi_ok || type != napi_uint8_array) {
    return fail(env, "ERR_INVALID_ARG_TYPE", "pipeSend: src must be a Uint8Array");
  }
  if (at < 0 || len <= 0 || static_cast<uint64_t>(at) > length || static_cast<uint64_t>(len) > length - static_cast<uint64_t>(at)) {
    return fail(env, "ERR_OUT_OF_RANGE", "pipeSend: [at, at + len) is outside src or empty");
  }
  Job* j = new Job{id, static_cast<int>(fd), static_cast<const uint8_t*>(data) + at, static_cast<size_t>(len), 0, false, false, false};
  pthread_mutex_lock(&p->mu);
  p->jobs.push_back(j);
  bool sleeping = p->sleeping;
  pthread_mutex_unlock(&p->mu);
  if (sleeping) wake(p);
  return nullptr;
}

// pipeProgress(job): bytes of the job written so far, or -1 when the pipe no longer has it.
napi_value pipe_progress(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  Pipe* p = pipe_of(env);
  double id;
  if (p == nullptr || argc < 1 || napi_get_value_double(env, argv[0], &id) != napi_ok) return fail(env, "ERR_INVALID_ARG_TYPE", "pipeProgress(job)");
  double r = -1;
  pthread_mutex_lock(&p->mu);
  for (Job* j : p->jobs)
    if (j->id == id) r = static_cast<double>(j->done);
  pthread_mutex_unlock(&p->mu);
  return number(env, r);
}

// pipeCancel(job): takes the job back (its onDone will not come): the bytes it had written, or -1
// when the pipe no longer has it (its onDone has been queued).
napi_value pipe_cancel(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  Pipe* p = pipe_of(env);
  double id;
  if (p == nullptr || argc < 1 || napi_get_value_double(env, argv[0], &id) != napi_ok) return fail(env, "ERR_INVALID_ARG_TYPE", "pipeCancel(job)");
  double r = -1;
  pthread_mutex_lock(&p->mu);
  for (size_t i = 0; i < p->jobs.size(); i++) {
    Job* j = p->jobs[i];
    if (j->id != id) continue;
    j->cancelled = true;
    while (j->busy) pthread_cond_wait(&p->idle, &p->mu);
    r = static_cast<double>(j->done);
    p->jobs.erase(p->jobs.begin() + i);
    delete j;
    break;
  }
  pthread_mutex_unlock(&p->mu);
  // The caller closes the fd next: the pipe's thread drops it from its poll set.
  if (r >= 0) wake(p);
  return number(env, r);
}

napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"pipe", nullptr, pipe_start, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"pipeSend", nullptr, pipe_send, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"pipeProgress", nullptr, pipe_progress, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"pipeCancel", nullptr, pipe_cancel, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace

NAPI_MODULE_INIT() { return init(env, exports); }
