# Packaging. One zip of functions/ serves all seven functions; the third-party dependencies of
# the authorizer and refresh (PyJWT, cryptography) go into a Lambda layer that pip builds at
# apply time, so no vendored code is ever committed. Everything is written under build/
# (git-ignored).

locals {
  build_dir = "${path.root}/build/${var.name_prefix}"

  auth_enabled = var.auth.mode != "disabled"
  # The layer is built only when the authorizer exists and the consumer brought no layer of their own.
  build_layer = var.create && local.auth_enabled && length(var.authorizer_layer_arns) == 0

  layer_dir  = "${local.build_dir}/authorizer-layer"
  pip_arch   = var.lambda_architecture == "arm64" ? "aarch64" : "x86_64"
  python_ver = trimprefix(var.lambda_runtime, "python")
}

# The zip is built twice from the same inputs by the same deterministic provider (fixed file
# mode, zeroed times): `functions_hash` at plan time, for source_code_hash (a value known at
# plan, so a fresh checkout plans no change); `functions` for the file Lambda uploads. The second
# is read again during apply whenever the code changed (it depends on a resource that the new
# hash replaces), so a saved plan applied on a clean runner finds the zip it uploads.
locals {
  archive_excludes = [
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

data "archive_file" "functions_hash" {
  count = var.create ? 1 : 0

  type             = "zip"
  source_dir       = "${path.module}/functions"
  output_path      = "${local.build_dir}/functions.plan.zip"
  output_file_mode = "0644"
  excludes         = local.archive_excludes
}

resource "terraform_data" "functions_zip" {
  count = var.create ? 1 : 0

  triggers_replace = data.archive_file.functions_hash[0].output_base64sha256
}

data "archive_file" "functions" {
  count = var.create ? 1 : 0

  type             = "zip"
  source_dir       = "${path.module}/functions"
  output_path      = "${local.build_dir}/functions.zip"
  output_file_mode = "0644"
  excludes         = local.archive_excludes

  depends_on = [terraform_data.functions_zip]
}

# The authorizer's layer: pip installs manylinux wheels for the Lambda CPU, and the same step
# zips them (sorted entries, fixed times and modes). --require-hashes: pip installs only files
# whose sha256 functions/requirements.txt lists, for the whole dependency set, so a compromised
# index or mirror cannot change what runs in the authorizer. Everything it depends on is pinned and known
# at plan time, so the build reruns exactly when an input changes, never because build/ is
# missing (fresh clone, CI runner): the layer version is replaced with it (replace_triggered_by).
locals {
  layer_zip = "${local.build_dir}/authorizer-layer.zip"
  layer_inputs = {
    requirements = filesha256("${path.module}/functions/requirements.txt")
    architecture = var.lambda_architecture
    runtime      = var.lambda_runtime
  }
}

resource "terraform_data" "authorizer_layer" {
  count = local.build_layer ? 1 : 0

  triggers_replace = local.layer_inputs

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    command     = <<-EOT
      set -eu
      rm -rf "$LAYER_DIR" "$LAYER_ZIP"
      mkdir -p "$LAYER_DIR/python"
      "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-compile \
        --only-binary=:all: --implementation cp --python-version "$PY_VERSION" \
        --platform "manylinux2014_$ARCH" --platform "manylinux_2_28_$ARCH" \
        --require-hashes --target "$LAYER_DIR/python" --requirement "$REQUIREMENTS"
      "$PYTHON" - "$LAYER_DIR" "$LAYER_ZIP" <<'PY'
      import os, sys, zipfile
      root, out = sys.argv[1], sys.argv[2]
      paths = []
      for top, dirs, files in os.walk(root):
          dirs[:] = sorted(d for d in dirs if d != "__pycache__")
          paths += [os.path.join(top, f) for f in files if not f.endswith(".pyc")]
      with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
          for path in sorted(paths):
              info = zipfile.ZipInfo(os.path.relpath(path, root), (1980, 1, 1, 0, 0, 0))
              info.external_attr = 0o644 << 16
              info.compress_type = zipfile.ZIP_DEFLATED
              with open(path, "rb") as source:
                  archive.writestr(info, source.read())
      PY
    EOT
    environment = {
      PYTHON       = var.python_executable
      LAYER_DIR    = local.layer_dir
      LAYER_ZIP    = local.layer_zip
      ARCH         = local.pip_arch
      PY_VERSION   = local.python_ver
      REQUIREMENTS = abspath("${path.module}/functions/requirements.txt")
    }
  }
}

resource "aws_lambda_layer_version" "authorizer" {
  count = local.build_layer ? 1 : 0

  layer_name               = "${var.name_prefix}-authorizer-deps"
  description              = "PyJWT and cryptography for the ${var.name_prefix} authorizer (built by pip for ${var.lambda_runtime}/${var.lambda_architecture})."
  filename                 = local.layer_zip
  compatible_runtimes      = [var.lambda_runtime]
  compatible_architectures = [var.lambda_architecture]

  depends_on = [terraform_data.authorizer_layer]

  lifecycle {
    # No source_code_hash: it would have to be the zip's hash, known only after the build.
    replace_triggered_by = [terraform_data.authorizer_layer[count.index]]
  }
}
