// 2D convolution for OpenCL, with the tuning parameters of Kernel Tuner's convolution example;
// tuned by opencl_conv2d.toml.
//
// output[y][x] = sum over i < filter_height, j < filter_width of
//                input[y + i][x + j] * filter[i][j]
// for a w x h output (row-major, row length w) and a (w + filter_width - 1) x
// (h + filter_height - 1) input (row length w + filter_width - 1): the input carries the border,
// so no work-item reads out of bounds. w and h must be multiples of the work-group's tile
// (block_size * tile_size in each dimension); the spec's restrictions guarantee it.
//
// Parameters (each arrives as -DNAME=value):
//   filter_width, filter_height  the filter's size (fixed: single-valued parameters)
//   block_size_x, block_size_y   the work-group
//   tile_size_x, tile_size_y     outputs per work-item in each dimension, strided by the block
//                                size so neighbouring work-items write neighbouring elements
//   use_local                    1: stage the work-group's input tile in local memory
//   use_padding                  1: pad each local-memory row by one element, so that
//                                work-items reading one column hit different banks

#define TILE_W (block_size_x * tile_size_x)  // outputs per work-group along x
#define TILE_H (block_size_y * tile_size_y)
#define IN_W (TILE_W + filter_width - 1)     // input the work-group reads along x
#define IN_H (TILE_H + filter_height - 1)

__kernel __attribute__((reqd_work_group_size(block_size_x, block_size_y, 1)))
void convolution(const int w, const int h, __global float* restrict output,
                 const __global float* restrict input, __constant float* restrict filter) {
  const int input_w = w + filter_width - 1;
  const int tx = get_local_id(0);
  const int ty = get_local_id(1);
  const int x0 = get_group_id(0) * TILE_W;
  const int y0 = get_group_id(1) * TILE_H;

#if use_local
  __local float tile[IN_H][IN_W + use_padding];
  for (int i = ty; i < IN_H; i += block_size_y) {
    for (int j = tx; j < IN_W; j += block_size_x) tile[i][j] = input[(y0 + i) * input_w + x0 + j];
  }
  barrier(CLK_LOCAL_MEM_FENCE);
#define IN(i, j) tile[i][j]
#else
#define IN(i, j) input[(y0 + (i)) * input_w + x0 + (j)]
#endif

  float sum[tile_size_y][tile_size_x];
  for (int ti = 0; ti < tile_size_y; ++ti) {
    for (int tj = 0; tj < tile_size_x; ++tj) sum[ti][tj] = 0.0f;
  }
  for (int i = 0; i < filter_height; ++i) {
    for (int j = 0; j < filter_width; ++j) {
      const float f = filter[i * filter_width + j];
      for (int ti = 0; ti < tile_size_y; ++ti) {
        for (int tj = 0; tj < tile_size_x; ++tj) {
          sum[ti][tj] += IN(ty + ti * block_size_y + i, tx + tj * block_size_x + j) * f;
        }
      }
    }
  }
  for (int ti = 0; ti < tile_size_y; ++ti) {
    for (int tj = 0; tj < tile_size_x; ++tj) {
      output[(y0 + ty + ti * block_size_y) * w + x0 + tx + tj * block_size_x] = sum[ti][tj];
    }
  }
}

// The reference: one output element at a time, looping over the output with the launch's whole
// grid so that it is correct under whatever geometry it is launched with (attune runs it with the
// tuned kernel's geometry at the default configuration).
__kernel void convolution_reference(const int w, const int h, __global float* output,
                                    const __global float* input, __constant float* filter) {
  const int input_w = w + filter_width - 1;
  for (int y = get_global_id(1); y < h; y += get_global_size(1)) {
    for (int x = get_global_id(0); x < w; x += get_global_size(0)) {
      float sum = 0.0f;
      for (int i = 0; i < filter_height; ++i) {
        for (int j = 0; j < filter_width; ++j) {
          sum += input[(y + i) * input_w + x + j] * filter[i * filter_width + j];
        }
      }
      output[y * w + x] = sum;
    }
  }
}
