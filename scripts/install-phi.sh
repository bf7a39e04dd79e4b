#!/usr/bin/env bash
# Installs phi as a .NET global tool from this checkout (Linux x64): packs src/StrawberryPhi.Cli, then installs it,
# replacing an earlier install. Afterwards a user types phi (with ~/.dotnet/tools on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
out=artifacts/tool
rm -rf "$out"
dotnet pack src/StrawberryPhi.Cli -c Release -o "$out" --nologo -v quiet
version=$(sed -n 's|.*<Version>\(.*\)</Version>.*|\1|p' src/StrawberryPhi.Cli/StrawberryPhi.Cli.csproj)
dotnet tool uninstall --global StrawberryPhi.Cli >/dev/null 2>&1 || true
dotnet tool install --global --add-source "$out" StrawberryPhi.Cli --version "$version"
case ":$PATH:" in
  *":$HOME/.dotnet/tools:"*) ;;
  *) echo "Add the .NET tools folder to PATH to type phi: export PATH=\"\$PATH:\$HOME/.dotnet/tools\"" ;;
esac
