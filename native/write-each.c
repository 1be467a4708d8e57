/*
 * writeEach: the end of a write turn's direct writes in one call from
 * JavaScript (src/server/direct-writes.ts). A broadcast writes the same
 * frame to hundreds of sockets; from JavaScript each write(2) goes through
 * fs.writeSync's argument checks and a binding call, which on loopback costs
 * about 0.3 us per socket beside the kernel's 2 us. Here the loop over the
 * sockets is C: one call per turn, one write(2) (or writev(2), for a socket
 * given several frames in the turn) per socket, nothing else.
 *
 * writeEach(fds: Int32Array, first: Int32Array, counts: Int32Array,
 *           frames: Buffer[], count: number, written: Int32Array): undefined
 *   For i < count with counts[i] > 0: writes frames[first[i]] ...
 *   frames[first[i] + counts[i] - 1] to fds[i], in one call; written[i] is
 *   the number of bytes the kernel took, or -errno (EAGAIN: its buffer is
 *   full). Entries with counts[i] <= 0 are left alone (the caller writes
 *   them). The caller checked every descriptor is still its socket's, and
 *   writes what the kernel did not take through the socket's stream.
 *   Arguments are checked before anything is written: a TypeError then.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>
#include <node_api.h>

/* The most frames one socket's entry may carry (more are written from JavaScript). */
#define MAX_FRAMES_PER_SOCKET 64

#define THROW_IF(failed, message) \
  if (failed) { napi_throw_type_error(env, NULL, message); return NULL; }

static int typed_int32(napi_env env, napi_value value, int32_t **data, size_t *length) {
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  void *raw;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, &buffer, &offset) != napi_ok) return 0;
  *data = raw;
  return type == napi_int32_array;
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
  struct iovec *frames = malloc(sizeof(struct iovec) * (frame_count > 0 ? frame_count : 1));
  if (frames == NULL) {
    napi_throw_error(env, NULL, "writeEach: out of memory");
    return NULL;
  }
  for (uint32_t f = 0; f < frame_count; f++) {
    napi_value frame;
    if (napi_get_element(env, argv[3], f, &frame) != napi_ok || napi_get_buffer_info(env, frame, &frames[f].iov_base, &frames[f].iov_len) != napi_ok) {
      free(frames);
      napi_throw_type_error(env, NULL, "frames must hold Buffers");
      return NULL;
    }
  }
  for (size_t i = 0; i < n; i++) {
    if (counts[i] <= 0) continue; /* the caller writes this one itself */
    ssize_t took;
    do took = counts[i] == 1 ? write(fds[i], frames[first[i]].iov_base, frames[first[i]].iov_len) : writev(fds[i], &frames[first[i]], counts[i]);
    while (took < 0 && errno == EINTR);
    written[i] = took < 0 ? -errno : (int32_t)took;
  }
  free(frames);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "writeEach", NAPI_AUTO_LENGTH, write_each, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "writeEach", fn) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
