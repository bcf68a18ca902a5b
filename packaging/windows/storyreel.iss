; Inno Setup 6 script: the Storyreel installer for Windows (x64).
;
; Build it with one command from the repository root (PowerShell):
;     .\packaging\windows\build.ps1
; which makes dist\storyreel\ with PyInstaller and then runs
;     ISCC.exe /DAppVersion=<pyproject version> packaging\windows\storyreel.iss
; Output: dist\storyreel-<version>-windows-x64-setup.exe
;
; Per user: no administrator rights, installed under %LOCALAPPDATA%\Programs\Storyreel,
; a Start-menu entry, and "Open with > Storyreel" for .txt, .md and .fountain files
; (Storyreel becomes the default only for .fountain, which nothing else claims).
; Uninstalling removes the program and those registry entries, never the user's
; data: history, images, settings and logs in %LOCALAPPDATA%\storyreel stay.

#ifndef AppVersion
  #error Pass the version: ISCC.exe /DAppVersion=0.1.0 storyreel.iss (build.ps1 does)
#endif
#define AppName "Storyreel"
#define AppExe "storyreel.exe"
#define ProgId "Storyreel.Idea"
#define Root "..\.."

[Setup]
; The AppId identifies the app across versions (upgrades, uninstall): never change it.
AppId={{A3D6156F-7EDA-4547-9752-50536D23B4FC}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=Storyreel
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
ChangesAssociations=yes
WizardStyle=modern
SetupIconFile={#Root}\build\icons\storyreel.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
OutputDir={#Root}\dist
OutputBaseFilename=storyreel-{#AppVersion}-windows-x64-setup
Compression=lzma2/max
SolidCompression=yes
; A running Storyreel holds its files open: ask to close it first.
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#Root}\dist\storyreel\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; An upgrade replaces the bundle whole (no stale DLLs from the previous version).
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; Comment: "Turn an idea into a storyboard"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Registry]
; HKA is HKCU for a per-user install: Software\Classes there is the user's own.
; The ProgID: how Storyreel opens an idea file.
Root: HKA; Subkey: "Software\Classes\{#ProgId}"; ValueType: string; ValueName: ""; ValueData: "Storyreel idea"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\{#ProgId}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExe},0"
Root: HKA; Subkey: "Software\Classes\{#ProgId}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""
; "Open with" for each type, without taking .txt or .md away from their editor.
Root: HKA; Subkey: "Software\Classes\.txt\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.md\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\.fountain\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
; .fountain has no usual owner: Storyreel opens it on double-click (unless one exists).
Root: HKA; Subkey: "Software\Classes\.fountain"; ValueType: string; ValueName: ""; ValueData: "{#ProgId}"; Flags: uninsdeletevalue; Check: NoFountainOwner
Root: HKA; Subkey: "Software\Classes\.fountain"; ValueType: string; ValueName: "Content Type"; ValueData: "text/x-fountain"; Flags: uninsdeletevalue createvalueifdoesntexist
Root: HKA; Subkey: "Software\Classes\.fountain"; ValueType: string; ValueName: "PerceivedType"; ValueData: "text"; Flags: uninsdeletevalue createvalueifdoesntexist
; The application's own entry, listed in "Open with > Choose another app".
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}"; ValueType: string; ValueName: "FriendlyAppName"; ValueData: "{#AppName}"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExe}"" ""%1"""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".txt"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".md"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExe}\SupportedTypes"; ValueType: string; ValueName: ".fountain"; ValueData: ""

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

; No [UninstallDelete]: %LOCALAPPDATA%\storyreel (the user's runs, images, settings and
; logs) is data, not program, and stays after an uninstall.

[Code]
function NoFountainOwner(): Boolean;
var
  Owner: String;
begin
  Result := not RegQueryStringValue(HKCU, 'Software\Classes\.fountain', '', Owner)
            or (Owner = '') or (Owner = '{#ProgId}');
end;
