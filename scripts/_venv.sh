# Sourced by the scripts in this folder: make (once) and refresh the project's virtual environment.
# Usage: labctl_venv EXTRAS   (e.g. "" for the tool alone, "dev" for tests and linters)
# Honours LABCTL_VENV (default .venv) and PYTHON (default python3).

labctl_venv() {
    local extras="$1" venv="${LABCTL_VENV:-.venv}" python="${PYTHON:-python3}"
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "labctl needs Python 3.11 or newer; set PYTHON=/path/to/python3.11 and run again" >&2
        return 1
    fi
    if [ ! -x "$venv/bin/python" ]; then
        echo "==> creating virtual environment in $venv"
        "$python" -m venv "$venv"
    fi
    local spec="." stamp
    [ -n "$extras" ] && spec=".[$extras]"
    stamp="$venv/.labctl-$(sha256sum pyproject.toml | cut -c1-16)-${extras:-base}"
    if [ ! -e "$stamp" ]; then
        echo "==> installing labctl${extras:+ with [$extras]} into $venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec"
        touch "$stamp"
    fi
    VENV_BIN="$(cd "$venv/bin" && pwd)"
    export VENV_BIN
}
