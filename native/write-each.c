/*
 * writeEach: the end of a write turn's direct writes in one call from
 * JavaScript (src/server/direct-writes.ts). A broadcast writes the same
 * frame to hundreds of sockets; from JavaScript each write(2) goes through
 * fs.writeSync's argument checks and a binding call, which on loopback costs
 * about 0.3 us per socket beside the kernel's 2 us. Here the loop over the
 * sockets is C, one call per turn.
 *
 * Where Linux allows it, the turn's sends are handed to the kernel in one
 * io_uring submission rather than one system call per socket: the kernel
 * runs them one after the other before io_uring_enter returns, with each
 * send's MSG_DONTWAIT, so the results are those write(2) would give
 * (partial, -EAGAIN), and nothing is left in flight when writeEach returns.
 * Entering the kernel once per turn rather than once per socket takes about
 * a quarter off a broadcast's CPU on loopback (bench/, scenario a). Where
 * io_uring is missing or refused (old kernel, seccomp, io_uring_disabled),
 * or with SWITCHYARD_IO_URING=0, each socket gets its write(2) or writev(2).
 *
 * writeEach(fds: Int32Array, first: Int32Array, counts: Int32Array,
 *           frames: Buffer[], count: number, written: Int32Array): undefined | string
 *   For i < count with counts[i] > 0: writes frames[first[i]] ...
 *   frames[first[i] + counts[i] - 1] to fds[i], in one call; written[i] is
 *   the number of bytes the kernel took, or -errno (EAGAIN: its buffer is
 *   full). Entries with counts[i] <= 0 are left alone (the caller writes
 *   them). The caller checked every descriptor is still its socket's, and
 *   writes what the kernel did not take through the socket's stream.
 *   Arguments are checked before anything is written: a TypeError then.
 *   -EIO: the ring failed with this socket's send in flight, so whether
 *   its bytes went out is unknown (the caller must end the connection).
 *   Returns what went wrong the one time the ring fails as a whole.
 *
 * writeMethod(): "io_uring" or "write", the road writeEach takes here.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <node_api.h>
#include "ring.h"

/* The most frames one socket's entry may carry (more are written from JavaScript). */
#define MAX_FRAMES_PER_SOCKET 64
/* Fewer sockets than this in a turn are written one by one: a submission saves nothing there. */
#define RING_THRESHOLD 2

#define THROW_IF(failed, message) \
  if (failed) { napi_throw_type_error(env, NULL, message); return NULL; }

/* What one Node environment (the main thread, or a worker) keeps between calls. */
struct writer {
  struct ring ring;
  int ring_state; /* 0: not tried yet, 1: ready, -1: not available */
  struct iovec *frames;
  size_t frames_capacity;
};

static void finalize_writer(napi_env env, void *data, void *hint) {
  struct writer *writer = data;
  (void)env, (void)hint;
  if (writer->ring_state == 1) ring_close(&writer->ring);
  free(writer->frames);
  free(writer);
}

static struct writer *writer_of(napi_env env) {
  void *data = NULL;
  napi_get_instance_data(env, &data);
  return data;
}

/* The ring, set up on first use; NULL when writes go one by one. */
static struct ring *ring_of(struct writer *writer) {
  if (writer->ring_state == 0) {
    const char *wanted = getenv("SWITCHYARD_IO_URING");
    writer->ring_state = (wanted != NULL && strcmp(wanted, "0") == 0) || ring_open(&writer->ring) != 0 ? -1 : 1;
  }
  return writer->ring_state == 1 ? &writer->ring : NULL;
}

static int typed_int32(napi_env env, napi_value value, int32_t **data, size_t *length) {
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  void *raw;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, &buffer, &offset) != napi_ok) return 0;
  *data = raw;
  return type == napi_int32_array;
}

/* One write(2) or writev(2) per entry from `from` on. */
static void write_one_by_one(const int32_t *fds, const int32_t *first, const int32_t *counts,
                             const struct iovec *frames, size_t from, size_t n, int32_t *written) {
  for (size_t i = from; i < n; i++) {
    if (counts[i] <= 0) continue; /* the caller writes this one itself */
    ssize_t took;
    do took = counts[i] == 1 ? write(fds[i], frames[first[i]].iov_base, frames[first[i]].iov_len) : writev(fds[i], &frames[first[i]], counts[i]);
    while (took < 0 && errno == EINTR);
    written[i] = took < 0 ? -errno : (int32_t)took;
  }
}

static napi_value write_each(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  THROW_IF(napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 6, "writeEach takes 6 arguments");
  int32_t *fds, *first, *counts, *written;
  size_t fd_length, first_length, counts_length, written_length;
  THROW_IF(!typed_int32(env, argv[0], &fds, &fd_length), "fds must be an Int32Array");
  THROW_IF(!typed_int32(env, argv[1], &first, &first_length), "first must be an Int32Array");
  THROW_IF(!typed_int32(env, argv[2], &counts, &counts_length), "counts must be an Int32Array");
  THROW_IF(!typed_int32(env, argv[5], &written, &written_length), "written must be an Int32Array");
  uint32_t frame_count;
  THROW_IF(napi_get_array_length(env, argv[3], &frame_count) != napi_ok, "frames must be an array");
  int32_t count;
  THROW_IF(napi_get_value_int32(env, argv[4], &count) != napi_ok || count < 0, "count must be a non-negative integer");
  size_t n = (size_t)count;
  THROW_IF(n > fd_length || n > first_length || n > counts_length || n > written_length, "count exceeds an array");
  for (size_t i = 0; i < n; i++) {
    THROW_IF(counts[i] > MAX_FRAMES_PER_SOCKET, "an entry has more than 64 frames");
    THROW_IF(counts[i] > 0 && (first[i] < 0 || (uint32_t)first[i] + (uint32_t)counts[i] > frame_count), "an entry's frames are out of range");
  }

  /* The frames' bytes, read once: a broadcast has one frame for every socket. */
  struct writer *writer = writer_of(env);
  if (frame_count > writer->frames_capacity) {
    size_t capacity = frame_count < 64 ? 64 : (size_t)frame_count * 2;
    struct iovec *grown = realloc(writer->frames, sizeof(struct iovec) * capacity);
    if (grown == NULL) {
      napi_throw_error(env, NULL, "writeEach: out of memory");
      return NULL;
    }
    writer->frames = grown;
    writer->frames_capacity = capacity;
  }
  struct iovec *frames = writer->frames;
  for (uint32_t f = 0; f < frame_count; f++) {
    napi_value frame;
    if (napi_get_element(env, argv[3], f, &frame) != napi_ok || napi_get_buffer_info(env, frame, &frames[f].iov_base, &frames[f].iov_len) != napi_ok) {
      napi_throw_type_error(env, NULL, "frames must hold Buffers");
      return NULL;
    }
  }

  size_t done = 0;
  struct ring *ring = n >= RING_THRESHOLD ? ring_of(writer) : NULL;
  int failed = ring != NULL ? ring_send_each(ring, fds, first, counts, frames, n, written, &done) : 0;
  if (failed != 0) {
    /* The ring failed as a whole (not one socket's send): it is closed, and writes go one by one from now on. */
    ring_close(ring);
    writer->ring_state = -1;
  }
  write_one_by_one(fds, first, counts, frames, done, n, written);
  if (failed == 0) return NULL;
  char message[160];
  snprintf(message, sizeof message, "io_uring failed (%s): the native writer writes one socket at a time from now on", strerror(-failed));
  napi_value said;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &said);
  return said;
}

static napi_value write_method(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value method;
  napi_create_string_utf8(env, ring_of(writer_of(env)) != NULL ? "io_uring" : "write", NAPI_AUTO_LENGTH, &method);
  return method;
}

static napi_value init(napi_env env, napi_value exports) {
  struct writer *writer = calloc(1, sizeof *writer);
  if (writer == NULL || napi_set_instance_data(env, writer, finalize_writer, NULL) != napi_ok) return NULL;
  napi_value fn;
  if (napi_create_function(env, "writeEach", NAPI_AUTO_LENGTH, write_each, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "writeEach", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "writeMethod", NAPI_AUTO_LENGTH, write_method, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "writeMethod", fn) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
