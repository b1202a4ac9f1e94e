# Packaging. One zip of functions/ serves all seven functions; the third-party dependencies of
# the authorizer and refresh (PyJWT, cryptography) go into a Lambda layer that pip builds at
# apply time, so no vendored code is ever committed. Everything is written under build/
# (git-ignored).

locals {
  build_dir = "${path.root}/build/${var.name_prefix}"

  auth_enabled = var.auth.mode != "disabled"
  # The layer is built only when the authorizer exists and the consumer brought no layer of their own.
  build_layer = var.create && local.auth_enabled && length(var.authorizer_layer_arns) == 0

  layer_dir   = "${local.build_dir}/authorizer-layer"
  layer_stamp = "${local.build_dir}/authorizer-layer.stamp"
  pip_arch    = var.lambda_architecture == "arm64" ? "aarch64" : "x86_64"
  python_ver  = trimprefix(var.lambda_runtime, "python")
}

data "archive_file" "functions" {
  count = var.create ? 1 : 0

  type        = "zip"
  source_dir  = "${path.module}/functions"
  output_path = "${local.build_dir}/functions.zip"
  # Same bytes on every machine: no umask-dependent modes, no caches, no tests.
  output_file_mode = "0644"
  excludes = [
    "**/__pycache__",
    "**/__pycache__/**",
    "**/*.pyc",
    "**/.mypy_cache/**",
    "tests",
    "tests/**",
    "**/tests/**",
    "requirements.txt",
  ]
}

# Builds build/<prefix>/authorizer-layer/python/ with manylinux wheels for the Lambda CPU.
# --require-hashes: pip installs only files whose sha256 functions/requirements.txt lists, for the
# whole dependency set, so a compromised index or mirror cannot change what runs in the authorizer.
resource "terraform_data" "authorizer_layer" {
  count = local.build_layer ? 1 : 0

  triggers_replace = {
    requirements = filesha256("${path.module}/functions/requirements.txt")
    architecture = var.lambda_architecture
    runtime      = var.lambda_runtime
    # After a build the stamp holds this very value (written from self.triggers_replace below),
    # so the trigger is stable. When the build output is gone (fresh clone, `make clean`) the
    # value is timestamp(), unknown until apply: the resource is replaced and pip runs again.
    build = fileexists(local.layer_stamp) ? trimspace(file(local.layer_stamp)) : timestamp()
  }

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    command     = <<-EOT
      set -eu
      rm -rf "$LAYER_DIR" "$STAMP"
      mkdir -p "$LAYER_DIR/python"
      "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-compile \
        --only-binary=:all: --implementation cp --python-version "$PY_VERSION" \
        --platform "manylinux2014_$ARCH" --platform "manylinux_2_28_$ARCH" \
        --require-hashes --target "$LAYER_DIR/python" --requirement "$REQUIREMENTS"
      printf '%s\n' "$BUILD" > "$STAMP"
    EOT
    environment = {
      PYTHON       = var.python_executable
      LAYER_DIR    = local.layer_dir
      STAMP        = local.layer_stamp
      ARCH         = local.pip_arch
      PY_VERSION   = local.python_ver
      REQUIREMENTS = abspath("${path.module}/functions/requirements.txt")
      BUILD        = self.triggers_replace.build
    }
  }
}

data "archive_file" "authorizer_layer" {
  count = local.build_layer ? 1 : 0

  type             = "zip"
  source_dir       = local.layer_dir
  output_path      = "${local.build_dir}/authorizer-layer.zip"
  output_file_mode = "0644"
  excludes         = ["**/__pycache__", "**/__pycache__/**", "**/*.pyc"]

  depends_on = [terraform_data.authorizer_layer]
}

resource "aws_lambda_layer_version" "authorizer" {
  count = local.build_layer ? 1 : 0

  layer_name               = "${var.name_prefix}-authorizer-deps"
  description              = "PyJWT and cryptography for the ${var.name_prefix} authorizer (built by pip for ${var.lambda_runtime}/${var.lambda_architecture})."
  filename                 = data.archive_file.authorizer_layer[0].output_path
  source_code_hash         = data.archive_file.authorizer_layer[0].output_base64sha256
  compatible_runtimes      = [var.lambda_runtime]
  compatible_architectures = [var.lambda_architecture]
}
