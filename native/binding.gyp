{
  # Built by scripts/build-native.mjs, which finds OpenBLAS and passes where it is.
  "variables": {
    "openblas_lib%": "-lopenblas",
    "openblas_dir%": "",
    "openblas_include%": "/usr/include",
    "march%": "native",
    "dnnl%": "0",
    "dnnl_lib%": "-ldnnl",
    "dnnl_include%": "/usr/include",
    "dnnl_dir%": ""
  },
  "targets": [
    {
      "target_name": "dcgan_native",
      "include_dirs": ["<(openblas_include)", "<(dnnl_include)"],
      "sources": [
        "src/addon.c",
        "src/gemm.c",
        "src/conv.c",
        "src/elementwise.c",
        "src/batchnorm.c",
        "src/optim.c",
        "src/random.c",
        "src/peak.c",
        "src/direct_conv.c",
        "src/winograd.c",
        "src/image_conv.c",
        "src/scratch.c",
        "src/signals.c"
      ],
      # No contraction into FMA: the kernels round like the js reference (and PyTorch's Adam).
      # No trapping math: nothing here unmasks floating-point exceptions, and without the flag GCC
      # keeps a select such as x > 0 ? x : a·x scalar wherever the ISA has no masked vector
      # operations (AVX2: every rectifier and BatchNorm loop several times slower).
      "cflags": ["-O3", "-std=gnu11", "-fopenmp", "-march=<(march)", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "ldflags": ["-fopenmp", "-Wl,-rpath,<(openblas_dir)"],
      "libraries": ["<(openblas_lib)", "-lm"],
      # oneDNN's direct convolutions, where the build script found libdnnl (direct_conv.c).
      "conditions": [
        ["dnnl==1", {
          "defines": ["DCGAN_DNNL"],
          "libraries": ["<(dnnl_lib)"],
          "ldflags": ["-Wl,-rpath,<(dnnl_dir)"]
        }]
      ]
    }
  ]
}
