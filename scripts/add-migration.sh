#!/usr/bin/env bash
# Adds an EF Core migration to the studio without the dotnet-ef global tool (the package mirror lacks it):
# runs ef.dll from the Microsoft.EntityFrameworkCore.Tools package against the Release build.
# Usage: scripts/add-migration.sh NAME
set -euo pipefail
cd "$(dirname "$0")/../src/StrawberryPhi.Web"
name=${1:?usage: scripts/add-migration.sh NAME}
dotnet build -c Release >/dev/null
dotnet restore ../../tools/ef-tools.csproj >/dev/null
ef=$(find ~/.nuget/packages/microsoft.entityframeworkcore.tools/10.0.0 -path '*net10.0/any/ef.dll' | head -1)
out=bin/Release/net10.0
dotnet exec --depsfile $out/StrawberryPhi.Web.deps.json --runtimeconfig $out/StrawberryPhi.Web.runtimeconfig.json \
  --additionalprobingpath ~/.nuget/packages "$ef" migrations add "$name" \
  --assembly $out/StrawberryPhi.Web.dll --project-dir . --root-namespace StrawberryPhi.Web --output-dir Data/Migrations
