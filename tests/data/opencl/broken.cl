// Does not compile under any parameters: a configuration rejected with this source was never
// built.
__kernel void broken(__global float* out) {
  out[get_global_id(0)] = this is not OpenCL C;
}
