# Build the Windows artefacts with one command, from anywhere (PowerShell 5.1 or 7):
#
#     .\packaging\windows\build.ps1
#
# Needs: Python 3.12 (the py launcher, or -Python C:\path\to\python.exe) and Inno Setup 6
# (ISCC.exe on PATH or in its default folder; `winget install JRSoftware.InnoSetup` or
# `choco install innosetup`). Makes, in dist\:
#   storyreel\                                 the PyInstaller folder (storyreel.exe inside)
#   storyreel-<version>-windows-x64.zip         that folder, zipped (runs unpacked, no install)
#   storyreel-<version>-windows-x64-setup.exe   the per-user installer (storyreel.iss)
# The version is pyproject.toml's.
param(
    [string]$Python = "",
    [switch]$SkipInstaller
)
$ErrorActionPreference = "Stop"
$Root = Resolve-Path (Join-Path $PSScriptRoot "..\..")
Set-Location $Root

function Invoke-Checked {
    param([string]$Exe, [string[]]$Arguments)
    & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$Exe $($Arguments -join ' ') failed ($LASTEXITCODE)" }
}

$Venv = Join-Path $Root ".venv-package"
$VenvPython = Join-Path $Venv "Scripts\python.exe"
if (-not (Test-Path $VenvPython)) {
    if ($Python) { Invoke-Checked $Python @("-m", "venv", $Venv) }
    else { Invoke-Checked "py" @("-3.12", "-m", "venv", $Venv) }
}
Invoke-Checked $VenvPython @("-m", "pip", "install", "--quiet", "--upgrade", "pip")
Invoke-Checked $VenvPython @("-m", "pip", "install", "--quiet", ".", "-r", "packaging\pyinstaller\requirements.txt")

$Started = Get-Date
if (Test-Path "dist\storyreel") { Remove-Item -Recurse -Force "dist\storyreel" }
Invoke-Checked $VenvPython @("-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
    "--distpath", "dist", "--workpath", "build\pyinstaller", "packaging\pyinstaller\storyreel.spec")

$Version = & $VenvPython -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['project']['version'])"
Write-Host (& "dist\storyreel\storyreel.exe" --version)

$Zip = "dist\storyreel-$Version-windows-x64.zip"
if (Test-Path $Zip) { Remove-Item -Force $Zip }
Compress-Archive -Path "dist\storyreel" -DestinationPath $Zip

if (-not $SkipInstaller) {
    $Iscc = (Get-Command "ISCC.exe" -ErrorAction SilentlyContinue).Source
    if (-not $Iscc) {
        foreach ($Candidate in @("${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe",
                                 "$env:ProgramFiles\Inno Setup 6\ISCC.exe",
                                 "$env:LOCALAPPDATA\Programs\Inno Setup 6\ISCC.exe")) {
            if (Test-Path $Candidate) { $Iscc = $Candidate; break }
        }
    }
    if (-not $Iscc) { throw "Inno Setup 6 (ISCC.exe) not found: winget install JRSoftware.InnoSetup" }
    Invoke-Checked $Iscc @("/Q", "/DAppVersion=$Version", "packaging\windows\storyreel.iss")
}

$Minutes = ((Get-Date) - $Started).TotalMinutes
$Bundle = (Get-ChildItem -Recurse "dist\storyreel" | Measure-Object -Sum Length).Sum / 1MB
Write-Host ("bundle   dist\storyreel  {0:N0} MiB" -f $Bundle)
Get-ChildItem "dist\storyreel-$Version-windows-x64*" | ForEach-Object {
    Write-Host ("{0,-45} {1:N1} MiB" -f $_.Name, ($_.Length / 1MB))
}
Write-Host ("time     {0:N1} min" -f $Minutes)
