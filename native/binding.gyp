{
  # Built by scripts/build-native.mjs, which finds OpenBLAS and passes where it is.
  "variables": {
    "openblas_lib%": "-lopenblas",
    "openblas_dir%": "",
    "openblas_include%": "/usr/include",
    "march%": "native"
  },
  "targets": [
    {
      "target_name": "dcgan_native",
      "include_dirs": ["<(openblas_include)"],
      "sources": [
        "src/addon.c",
        "src/gemm.c",
        "src/conv.c",
        "src/elementwise.c",
        "src/batchnorm.c",
        "src/optim.c",
        "src/peak.c"
      ],
      # No contraction into FMA: the kernels round like the js reference (and PyTorch's Adam).
      "cflags": ["-O3", "-std=gnu11", "-fopenmp", "-march=<(march)", "-ffp-contract=off", "-fno-math-errno", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "ldflags": ["-fopenmp", "-Wl,-rpath,<(openblas_dir)"],
      "libraries": ["<(openblas_lib)", "-lm"]
    }
  ]
}
