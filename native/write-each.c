/*
 * writeEach: the end of a write turn's direct writes in one call from
 * JavaScript (src/server/direct-writes.ts). A broadcast writes the same
 * frame to hundreds of sockets; from JavaScript each write(2) goes through
 * fs.writeSync's argument checks and a binding call, which on loopback costs
 * about 0.3 us per socket beside the kernel's 2 us. Here the loop over the
 * sockets is C: one call per turn, one write(2) per socket, nothing else.
 *
 * writeEach(fds: Int32Array, frameOf: Int32Array, frames: Buffer[],
 *           count: number, written: Int32Array): undefined
 *   For i < count with frameOf[i] >= 0: write(fds[i], frames[frameOf[i]]);
 *   written[i] is the number of bytes the kernel took, or -errno (EAGAIN:
 *   its buffer is full). Entries with frameOf[i] < 0 are left alone.
 *   The caller checked every descriptor is still its socket's, and writes
 *   what the kernel did not take through the socket's stream.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <node_api.h>

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
  size_t argc = 5;
  napi_value argv[5];
  THROW_IF(napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5, "writeEach takes 5 arguments");
  int32_t *fds, *frame_of, *written;
  size_t fd_count, index_count, written_count;
  THROW_IF(!typed_int32(env, argv[0], &fds, &fd_count), "fds must be an Int32Array");
  THROW_IF(!typed_int32(env, argv[1], &frame_of, &index_count), "frameOf must be an Int32Array");
  THROW_IF(!typed_int32(env, argv[4], &written, &written_count), "written must be an Int32Array");
  uint32_t frame_count;
  THROW_IF(napi_get_array_length(env, argv[2], &frame_count) != napi_ok, "frames must be an array");
  int32_t count;
  THROW_IF(napi_get_value_int32(env, argv[3], &count) != napi_ok || count < 0, "count must be a non-negative integer");
  THROW_IF((size_t)count > fd_count || (size_t)count > index_count || (size_t)count > written_count, "count exceeds an array");

  /* The frames' bytes, read once: a broadcast has one frame for every socket. */
  void **data = malloc(sizeof(void *) * (frame_count > 0 ? frame_count : 1));
  size_t *lengths = malloc(sizeof(size_t) * (frame_count > 0 ? frame_count : 1));
  if (data == NULL || lengths == NULL) {
    free(data);
    free(lengths);
    napi_throw_error(env, NULL, "writeEach: out of memory");
    return NULL;
  }
  for (uint32_t f = 0; f < frame_count; f++) {
    napi_value frame;
    if (napi_get_element(env, argv[2], f, &frame) != napi_ok || napi_get_buffer_info(env, frame, &data[f], &lengths[f]) != napi_ok) {
      free(data);
      free(lengths);
      napi_throw_type_error(env, NULL, "frames must hold Buffers");
      return NULL;
    }
  }
  for (int32_t i = 0; i < count; i++) {
    int32_t f = frame_of[i];
    if (f < 0) continue; /* the caller writes this one itself */
    if ((uint32_t)f >= frame_count) {
      written[i] = -EINVAL;
      continue;
    }
    ssize_t took;
    do took = write(fds[i], data[f], lengths[f]);
    while (took < 0 && errno == EINTR);
    written[i] = took < 0 ? -errno : (int32_t)took;
  }
  free(data);
  free(lengths);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "writeEach", NAPI_AUTO_LENGTH, write_each, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "writeEach", fn) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
