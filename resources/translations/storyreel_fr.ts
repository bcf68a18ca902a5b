<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="fr_FR">
<context>
    <name>BoardControls</name>
    <message>
        <source>&amp;Add shot after</source>
        <translation>&amp;Ajouter un plan après</translation>
    </message>
    <message>
        <source>A new shot after the selected one (Insert, or Ctrl+N in the storyboard)</source>
        <translation>Un nouveau plan après celui sélectionné (Inser, ou Ctrl+N dans le storyboard)</translation>
    </message>
    <message>
        <source>D&amp;uplicate</source>
        <translation>D&amp;upliquer</translation>
    </message>
    <message>
        <source>&amp;Delete</source>
        <translation>&amp;Supprimer</translation>
    </message>
    <message>
        <source>Add shot</source>
        <translation>Ajout d’un plan</translation>
    </message>
    <message>
        <source>A new shot</source>
        <translation>Un nouveau plan</translation>
    </message>
    <message>
        <source>Duplicate shot %1</source>
        <translation>Duplication du plan %1</translation>
    </message>
    <message>
        <source>Delete shot %1?</source>
        <translation>Supprimer le plan %1 ?</translation>
    </message>
    <message>
        <source>Its image goes with it.</source>
        <translation>Son image part avec lui.</translation>
    </message>
    <message>
        <source>Its %1 images go with it.</source>
        <translation>Ses %1 images partent avec lui.</translation>
    </message>
    <message>
        <source>Undo (Ctrl+Z) brings the shot back while this window is open.</source>
        <translation>Annuler (Ctrl+Z) le rétablit tant que cette fenêtre reste ouverte.</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>Supprimer</translation>
    </message>
    <message>
        <source>Keep</source>
        <translation>Garder</translation>
    </message>
    <message>
        <source>Delete shot %1</source>
        <translation>Suppression du plan %1</translation>
    </message>
    <message>
        <source>Move shot %1</source>
        <translation>Déplacement du plan %1</translation>
    </message>
    <message>
        <source>Change shot %1</source>
        <translation>Modification du plan %1</translation>
    </message>
    <message>
        <source>&amp;Move to scene</source>
        <translation>&amp;Déplacer vers la scène</translation>
    </message>
    <message>
        <source>Scene %1</source>
        <translation>Scène %1</translation>
    </message>
</context>
<context>
    <name>BoardFilter</name>
    <message>
        <source>Show the shots of one scene</source>
        <translation>Afficher les plans d’une scène</translation>
    </message>
    <message>
        <source>Show the shots in one state</source>
        <translation>Afficher les plans dans un état</translation>
    </message>
    <message>
        <source>Any status</source>
        <translation>Tous les états</translation>
    </message>
    <message>
        <source>Stale only</source>
        <translation>Périmés seulement</translation>
    </message>
    <message>
        <source>Show only the shots whose image an edit made stale</source>
        <translation>N’afficher que les plans dont une modification a rendu l’image périmée</translation>
    </message>
    <message>
        <source>Scroll to the first shot of a scene</source>
        <translation>Aller au premier plan d’une scène</translation>
    </message>
    <message>
        <source>Show:</source>
        <translation>Afficher :</translation>
    </message>
    <message>
        <source>%1 of %2 shots</source>
        <translation>%1 plans sur %2</translation>
    </message>
    <message>
        <source>All scenes</source>
        <translation>Toutes les scènes</translation>
    </message>
    <message>
        <source>Jump to scene…</source>
        <translation>Aller à la scène…</translation>
    </message>
    <message>
        <source>Scene %1: %2</source>
        <translation>Scène %1 : %2</translation>
    </message>
    <message>
        <source>Scene %1</source>
        <translation>Scène %1</translation>
    </message>
</context>
<context>
    <name>BoardUndo</name>
    <message>
        <source>Undo lasts while the window is open; history keeps the result of every step, so after a restart the board is as the last step left it</source>
        <translation>L’annulation dure tant que la fenêtre est ouverte ; l’historique garde le résultat de chaque étape : après un redémarrage, le storyboard est tel que la dernière étape l’a laissé</translation>
    </message>
    <message>
        <source>&amp;Undo</source>
        <translation>&amp;Annuler</translation>
    </message>
    <message>
        <source>&amp;Redo</source>
        <translation>&amp;Rétablir</translation>
    </message>
    <message>
        <source>Undo: %1</source>
        <translation>Annuler : %1</translation>
    </message>
    <message>
        <source>Redo: %1</source>
        <translation>Rétablir : %1</translation>
    </message>
    <message>
        <source>%1: not saved</source>
        <translation>%1 : non enregistré</translation>
    </message>
    <message>
        <source>&amp;Undo %1</source>
        <translation>&amp;Annuler : %1</translation>
    </message>
    <message>
        <source>&amp;Redo %1</source>
        <translation>&amp;Rétablir : %1</translation>
    </message>
</context>
<context>
    <name>Costs</name>
    <message>
        <source>script</source>
        <translation>scénario</translation>
    </message>
    <message>
        <source>scene plan</source>
        <translation>découpage</translation>
    </message>
    <message>
        <source>shots</source>
        <translation>plans</translation>
    </message>
    <message>
        <source>less than $0.01</source>
        <translation>moins de 0,01 $</translation>
    </message>
    <message>
        <source>$%1</source>
        <translation>%1 $</translation>
    </message>
    <message>
        <source>Cost: %1 GPU s, %2 s queued</source>
        <translation>Coût : %1 s de GPU, %2 s en file d’attente</translation>
    </message>
    <message>
        <source> · about %1</source>
        <translation> · environ %1</translation>
    </message>
    <message>
        <source>What RunPod billed, by stage:</source>
        <translation>Ce que RunPod a facturé, par étape :</translation>
    </message>
    <message>
        <source>%1: %2 jobs, %3 GPU s, %4 s queued, %5 s wall</source>
        <translation>%1 : %2 tâches, %3 s de GPU, %4 s en file d’attente, %5 s de durée réelle</translation>
    </message>
    <message>
        <source>In all: %1 jobs, %2 GPU s, %3 s queued</source>
        <translation>En tout : %1 tâches, %2 s de GPU, %3 s en file d’attente</translation>
    </message>
    <message>
        <source>Failed attempts and earlier versions count too: they were paid for.</source>
        <translation>Les tentatives échouées et les versions précédentes comptent aussi : elles ont été payées.</translation>
    </message>
    <message>
        <source>%1 GPU s</source>
        <translation>%1 s de GPU</translation>
    </message>
    <message>
        <source>Estimate: %1 GPU jobs, about %2 GPU s</source>
        <translation>Estimation : %1 tâches GPU, environ %2 s de GPU</translation>
    </message>
    <message>
        <source> · set a price in Settings to see the cost</source>
        <translation> · indiquez un prix dans les Paramètres pour voir le coût</translation>
    </message>
    <message>
        <source>Shots: %1 (%2)</source>
        <translation>Plans : %1 (%2)</translation>
    </message>
    <message>
        <source>Each shot: about %1 GPU s (%2)</source>
        <translation>Chaque plan : environ %1 s de GPU (%2)</translation>
    </message>
    <message>
        <source>Writer: %1 jobs of about %2 GPU s (%3)</source>
        <translation>Rédaction : %1 tâches d’environ %2 s de GPU (%3)</translation>
    </message>
    <message>
        <source>No price set: enter the price per GPU second in File › Settings to see the cost in dollars.</source>
        <translation>Aucun prix indiqué : saisissez le prix de la seconde de GPU dans Fichier › Paramètres pour voir le coût en dollars.</translation>
    </message>
    <message>
        <source>Price: $%1 per GPU second</source>
        <translation>Prix : %1 $ la seconde de GPU</translation>
    </message>
    <message>
        <source>The budget of %1 GPU s will stop the run early.</source>
        <translation>Le budget de %1 s de GPU arrêtera la génération avant la fin.</translation>
    </message>
    <message>
        <source>The whole script: %1 scenes, about %2 shots, about %3 GPU s</source>
        <translation>Le script entier : %1 scènes, environ %2 plans, environ %3 s de GPU</translation>
    </message>
    <message>
        <source>The estimate learns from your finished runs.</source>
        <translation>L’estimation s’affine avec vos générations terminées.</translation>
    </message>
    <message>
        <source>at most, as asked</source>
        <translation>au plus, comme demandé</translation>
    </message>
    <message>
        <source>the most your recent runs had, within the limit asked</source>
        <translation>le maximum de vos générations récentes, dans la limite demandée</translation>
    </message>
    <message>
        <source>a typical storyboard</source>
        <translation>un storyboard typique</translation>
    </message>
    <message>
        <source>the scenes to storyboard</source>
        <translation>les scènes à mettre en storyboard</translation>
    </message>
    <message>
        <source>no GPU</source>
        <translation>pas de GPU</translation>
    </message>
    <message>
        <source>a stated default until you have runs</source>
        <translation>une valeur par défaut, en attendant vos premières générations</translation>
    </message>
    <message>
        <source>a stated default</source>
        <translation>une valeur par défaut</translation>
    </message>
    <message>
        <source>your last run</source>
        <translation>votre dernière génération</translation>
    </message>
    <message>
        <source>your last run on it</source>
        <translation>votre dernière génération sur ce point de terminaison</translation>
    </message>
    <message>
        <source>the median of your last %1 runs</source>
        <translation>la médiane de vos %1 dernières générations</translation>
    </message>
    <message>
        <source>your last %1 runs on it</source>
        <translation>vos %1 dernières générations sur ce point de terminaison</translation>
    </message>
    <message>
        <source>your last %1 runs</source>
        <translation>vos %1 dernières générations</translation>
    </message>
    <message>
        <source>No RunPod GPU jobs</source>
        <translation>Aucune tâche GPU sur RunPod</translation>
    </message>
    <message>
        <source>Offline: free</source>
        <translation>Hors ligne : gratuit</translation>
    </message>
</context>
<context>
    <name>EditorRow</name>
    <message>
        <source>Apply</source>
        <translation>Appliquer</translation>
    </message>
    <message>
        <source>Save this change; the shots it changes are marked stale (Ctrl+S)</source>
        <translation>Enregistrer cette modification ; les plans concernés sont marqués périmés (Ctrl+S)</translation>
    </message>
</context>
<context>
    <name>ExportDialog</name>
    <message>
        <source>PDF storyboard</source>
        <translation>Storyboard PDF</translation>
    </message>
    <message>
        <source>Printable pages: a title page, then the panels in a grid with each shot&apos;s action and dialogue.</source>
        <translation>Des pages à imprimer : une page de titre, puis les vignettes en grille avec l’action et les dialogues de chaque plan.</translation>
    </message>
    <message>
        <source>Fountain screenplay</source>
        <translation>Scénario Fountain</translation>
    </message>
    <message>
        <source>The script as plain text, for screenwriting apps.</source>
        <translation>Le scénario en texte brut, pour les logiciels d’écriture de scénario.</translation>
    </message>
    <message>
        <source>Final Draft screenplay</source>
        <translation>Scénario Final Draft</translation>
    </message>
    <message>
        <source>The script as a Final Draft file (.fdx), for Final Draft, Fade In and other screenwriting apps.</source>
        <translation>Le scénario en fichier Final Draft (.fdx), pour Final Draft, Fade In et les autres logiciels d’écriture de scénario.</translation>
    </message>
    <message>
        <source>Screenplay PDF</source>
        <translation>Scénario en PDF</translation>
    </message>
    <message>
        <source>The script formatted for print: Courier 12, industry margins, a title page, numbered pages.</source>
        <translation>Le scénario mis en page pour l’impression : Courier 12, marges standard, page de titre, pages numérotées.</translation>
    </message>
    <message>
        <source>ZIP of images</source>
        <translation>ZIP des images</translation>
    </message>
    <message>
        <source>Every image in story order, with the storyboard as JSON and the screenplay.</source>
        <translation>Toutes les images dans l’ordre du récit, avec le storyboard en JSON et le scénario.</translation>
    </message>
    <message>
        <source>MP4 animatic</source>
        <translation>Animatique MP4</translation>
    </message>
    <message>
        <source>A video of the storyboard: each shot held for its duration.</source>
        <translation>Une vidéo du storyboard : chaque plan reste à l’écran pendant sa durée.</translation>
    </message>
    <message>
        <source>OTIO timeline</source>
        <translation>Timeline OTIO</translation>
    </message>
    <message>
        <source>An OpenTimelineIO timeline of the shots, for video editors (Resolve, Premiere through a plugin…).</source>
        <translation>Une timeline OpenTimelineIO des plans, pour les logiciels de montage (Resolve, Premiere avec un module…).</translation>
    </message>
    <message>
        <source>Export “%1”</source>
        <translation>Exporter « %1 »</translation>
    </message>
    <message>
        <source>A4</source>
        <translation>A4</translation>
    </message>
    <message>
        <source>US Letter</source>
        <translation>Lettre US</translation>
    </message>
    <message>
        <source>Landscape</source>
        <translation>Paysage</translation>
    </message>
    <message>
        <source>Portrait</source>
        <translation>Portrait</translation>
    </message>
    <message>
        <source>Panels side by side; one column on a portrait page is a shot list</source>
        <translation>Vignettes côte à côte ; une seule colonne sur une page en portrait donne une liste de plans</translation>
    </message>
    <message>
        <source>Each shot’s own</source>
        <translation>Celle de chaque plan</translation>
    </message>
    <message>
        <source> s</source>
        <translation> s</translation>
    </message>
    <message>
        <source>How long each shot stays on screen</source>
        <translation>Durée d’affichage de chaque plan</translation>
    </message>
    <message>
        <source>Caption each shot with its number and its text</source>
        <translation>Légender chaque plan avec son numéro et son texte</translation>
    </message>
    <message>
        <source>The file to write; the folder is created if needed</source>
        <translation>Le fichier à écrire ; le dossier est créé si besoin</translation>
    </message>
    <message>
        <source>Choose…</source>
        <translation>Choisir…</translation>
    </message>
    <message>
        <source>Export</source>
        <translation>Exporter</translation>
    </message>
    <message>
        <source>Close</source>
        <translation>Fermer</translation>
    </message>
    <message>
        <source>Format</source>
        <translation>Format</translation>
    </message>
    <message>
        <source>Paper</source>
        <translation>Papier</translation>
    </message>
    <message>
        <source>Orientation</source>
        <translation>Orientation</translation>
    </message>
    <message>
        <source>Columns</source>
        <translation>Colonnes</translation>
    </message>
    <message>
        <source>Seconds per shot</source>
        <translation>Secondes par plan</translation>
    </message>
    <message>
        <source>Save to</source>
        <translation>Enregistrer sous</translation>
    </message>
    <message>
        <source>This run has no images, so there is nothing to put in this format; the screenplay can still be exported as Fountain.</source>
        <translation>Cette génération n’a aucune image : il n’y a rien à mettre dans ce format. Le scénario peut toujours être exporté en Fountain.</translation>
    </message>
    <message>
        <source>This run has no script yet.</source>
        <translation>Cette génération n’a pas encore de scénario.</translation>
    </message>
    <message>
        <source>Export to</source>
        <translation>Exporter vers</translation>
    </message>
    <message>
        <source>Choose the file to write.</source>
        <translation>Choisissez le fichier à écrire.</translation>
    </message>
    <message>
        <source>Checking %1…</source>
        <translation>Vérification de %1…</translation>
    </message>
    <message>
        <source>Checking the export target</source>
        <translation>Vérification de la destination de l’export</translation>
    </message>
    <message>
        <source>Replace the file?</source>
        <translation>Remplacer le fichier ?</translation>
    </message>
    <message>
        <source>%1 already exists in %2. Replace it with this export?</source>
        <translation>%1 existe déjà dans %2. Le remplacer par cet export ?</translation>
    </message>
    <message>
        <source>Replace</source>
        <translation>Remplacer</translation>
    </message>
    <message>
        <source>Nothing was written: choose another name, or replace the file.</source>
        <translation>Rien n’a été écrit : choisissez un autre nom, ou remplacez le fichier.</translation>
    </message>
    <message>
        <source>Exporting to %1…</source>
        <translation>Export vers %1…</translation>
    </message>
    <message>
        <source>Exporting</source>
        <translation>Export en cours</translation>
    </message>
    <message>
        <source>Exporting… %1%</source>
        <translation>Export en cours… %1 %</translation>
    </message>
    <message>
        <source>Exported “%1”</source>
        <translation>« %1 » exporté</translation>
    </message>
    <message>
        <source>Saved in %1.</source>
        <translation>Enregistré dans %1.</translation>
    </message>
    <message>
        <source>Show in folder</source>
        <translation>Afficher dans le dossier</translation>
    </message>
    <message>
        <source>Export failed</source>
        <translation>Échec de l’export</translation>
    </message>
    <message>
        <source>Export cancelled; nothing was written.</source>
        <translation>Export annulé ; rien n’a été écrit.</translation>
    </message>
    <message>
        <source>Cancelling…</source>
        <translation>Annulation…</translation>
    </message>
    <message>
        <source>Cancel export</source>
        <translation>Annuler l’export</translation>
    </message>
</context>
<context>
    <name>GalleryView</name>
    <message>
        <source>Your storyboard appears here.

Type an idea above and press Generate, or drop idea files onto the window.</source>
        <translation>Votre storyboard apparaîtra ici.

Saisissez une idée ci-dessus et cliquez sur Générer, ou déposez des fichiers d’idées sur la fenêtre.</translation>
    </message>
    <message>
        <source>No shot matches these filters.</source>
        <translation>Aucun plan ne correspond à ces filtres.</translation>
    </message>
</context>
<context>
    <name>HistoryPanel</name>
    <message>
        <source>History</source>
        <translation>Historique</translation>
    </message>
    <message>
        <source>Search titles and ideas</source>
        <translation>Rechercher dans les titres et les idées</translation>
    </message>
    <message>
        <source>Show older runs</source>
        <translation>Afficher les générations plus anciennes</translation>
    </message>
    <message>
        <source>Loading history</source>
        <translation>Chargement de l’historique</translation>
    </message>
    <message>
        <source>Loading older runs</source>
        <translation>Chargement des générations plus anciennes</translation>
    </message>
    <message>
        <source>No run matches “%1”.</source>
        <translation>Aucune génération ne correspond à « %1 ».</translation>
    </message>
    <message>
        <source>Runs you make are kept here.</source>
        <translation>Vos générations sont conservées ici.</translation>
    </message>
    <message>
        <source>Open</source>
        <translation>Ouvrir</translation>
    </message>
    <message>
        <source>Delete…</source>
        <translation>Supprimer…</translation>
    </message>
    <message>
        <source>Cannot delete a running run</source>
        <translation>Impossible de supprimer une génération en cours</translation>
    </message>
    <message>
        <source>Cancel “%1” first, then delete it.</source>
        <translation>Annulez d’abord « %1 », puis supprimez-la.</translation>
    </message>
    <message>
        <source>Delete run?</source>
        <translation>Supprimer la génération ?</translation>
    </message>
    <message>
        <source>Delete “%1” and its %2 shots from history? This cannot be undone.</source>
        <translation>Supprimer « %1 » et ses %2 plans de l’historique ? Cette action est irréversible.</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>Supprimer</translation>
    </message>
    <message>
        <source>Deleting a run</source>
        <translation>Suppression d’une génération</translation>
    </message>
</context>
<context>
    <name>IdeaPanel</name>
    <message>
        <source>.txt, .md, .fountain, .fdx or a .json batch</source>
        <translation>.txt, .md, .fountain, .fdx ou un lot .json</translation>
    </message>
    <message>
        <source>%1 is a web address, not a file on this computer; save the idea to a file, or paste its text</source>
        <translation>%1 est une adresse web, pas un fichier de cet ordinateur ; enregistrez l’idée dans un fichier ou collez son texte</translation>
    </message>
    <message>
        <source>%1 is a web address; paste the idea&apos;s text instead</source>
        <translation>%1 est une adresse web ; collez plutôt le texte de l’idée</translation>
    </message>
    <message>
        <source>nothing usable was dropped: drop idea files (%1)</source>
        <translation>rien d’utilisable n’a été déposé : déposez des fichiers d’idées (%1)</translation>
    </message>
    <message>
        <source>Describe a story in a few sentences — who, where, what goes wrong…
Or drop idea files (%1) anywhere on the window.</source>
        <translation>Décrivez une histoire en quelques phrases : qui, où, ce qui tourne mal…
Ou déposez des fichiers d’idées (%1) n’importe où sur la fenêtre.</translation>
    </message>
    <message>
        <source>all</source>
        <translation>tous</translation>
    </message>
    <message>
        <source>At most this many shots per run</source>
        <translation>Nombre maximal de plans par génération</translation>
    </message>
    <message>
        <source>Shots</source>
        <translation>Plans</translation>
    </message>
    <message>
        <source>Storyboard only these scenes of the script, such as 1-12,40; the others stay in the run&apos;s script</source>
        <translation>Ne mettre en storyboard que ces scènes du script, par exemple 1-12,40 ; les autres restent dans le script de la génération</translation>
    </message>
    <message>
        <source>Scenes</source>
        <translation>Scènes</translation>
    </message>
    <message>
        <source>Generate</source>
        <translation>Générer</translation>
    </message>
    <message>
        <source>Make a storyboard from this idea (Ctrl+Enter)</source>
        <translation>Créer un storyboard à partir de cette idée (Ctrl+Entrée)</translation>
    </message>
    <message>
        <source>Clear queue</source>
        <translation>Vider la file</translation>
    </message>
    <message>
        <source>Not every scene is storyboarded</source>
        <translation>Toutes les scènes ne sont pas dans le storyboard</translation>
    </message>
    <message>
        <source>Storyboarding %1 of the script&apos;s %2 scenes; the other %3 stay in its script. To draw them later into this run: storyreel resume %4 --scenes N-M</source>
        <translation>Storyboard de %1 des %2 scènes du script ; les %3 autres restent dans le script. Pour les dessiner plus tard dans cette génération : storyreel resume %4 --scenes N-M</translation>
    </message>
    <message>
        <source>Nothing was queued</source>
        <translation>Rien n’a été mis en file</translation>
    </message>
    <message>
        <source>Nothing in this set-up runs on RunPod, so a run costs no GPU time.</source>
        <translation>Rien dans cette configuration ne tourne sur RunPod : une génération ne coûte aucun temps de GPU.</translation>
    </message>
    <message>
        <source>Estimating the cost of a run</source>
        <translation>Estimation du coût d’une génération</translation>
    </message>
    <message>
        <source>Estimate unavailable</source>
        <translation>Estimation indisponible</translation>
    </message>
    <message>
        <source>Reading idea files</source>
        <translation>Lecture des fichiers d’idées</translation>
    </message>
    <message>
        <source>1 idea waiting</source>
        <translation>1 idée en attente</translation>
    </message>
    <message>
        <source>%1 ideas waiting</source>
        <translation>%1 idées en attente</translation>
    </message>
    <message>
        <source>The frame of the storyboard: every panel, the PDF and the animatic follow it (changeable later in the run&apos;s header)</source>
        <translation>Le cadre du storyboard : chaque case, le PDF et l’animatique le suivent (modifiable ensuite dans l’en-tête du storyboard)</translation>
    </message>
    <message>
        <source>Frame</source>
        <translation>Cadre</translation>
    </message>
</context>
<context>
    <name>LookEditor</name>
    <message>
        <source>How %1 looks: age, build, face, hair, clothes</source>
        <translation>L’apparence de %1 : âge, silhouette, visage, cheveux, vêtements</translation>
    </message>
    <message>
        <source>Look of %1</source>
        <translation>Apparence de %1</translation>
    </message>
    <message>
        <source>in 1 shot</source>
        <translation>dans 1 plan</translation>
    </message>
    <message>
        <source>in %1 shots</source>
        <translation>dans %1 plans</translation>
    </message>
    <message>
        <source>%1 stale</source>
        <translation>%1 périmé(s)</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>Storyreel</source>
        <translation>Storyreel</translation>
    </message>
    <message>
        <source>Starting: opening the history and storage…</source>
        <translation>Démarrage : ouverture de l’historique et du stockage…</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>&amp;Fichier</translation>
    </message>
    <message>
        <source>&amp;New idea</source>
        <translation>&amp;Nouvelle idée</translation>
    </message>
    <message>
        <source>&amp;Open idea files…</source>
        <translation>&amp;Ouvrir des fichiers d’idées…</translation>
    </message>
    <message>
        <source>&amp;Export…</source>
        <translation>&amp;Exporter…</translation>
    </message>
    <message>
        <source>Export the run on show as a PDF storyboard, a screenplay, images, an animatic or a timeline (Ctrl+E)</source>
        <translation>Exporter la génération affichée en storyboard PDF, scénario, images, animatique ou timeline (Ctrl+E)</translation>
    </message>
    <message>
        <source>&amp;Settings…</source>
        <translation>&amp;Paramètres…</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>&amp;Quitter</translation>
    </message>
    <message>
        <source>&amp;Run</source>
        <translation>&amp;Génération</translation>
    </message>
    <message>
        <source>&amp;Generate (Ctrl+Enter)</source>
        <translation>&amp;Générer (Ctrl+Entrée)</translation>
    </message>
    <message>
        <source>&amp;Cancel run</source>
        <translation>&amp;Annuler la génération</translation>
    </message>
    <message>
        <source>&amp;Retry failed shots</source>
        <translation>&amp;Relancer les plans en échec</translation>
    </message>
    <message>
        <source>Resume &amp;interrupted runs</source>
        <translation>Reprendre les générations &amp;interrompues</translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation>&amp;Affichage</translation>
    </message>
    <message>
        <source>&amp;History</source>
        <translation>&amp;Historique</translation>
    </message>
    <message>
        <source>&amp;Storyboard</source>
        <translation>&amp;Storyboard</translation>
    </message>
    <message>
        <source>S&amp;cript</source>
        <translation>S&amp;cénario</translation>
    </message>
    <message>
        <source>Sc&amp;enes</source>
        <translation>Sc&amp;ènes</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>Ai&amp;de</translation>
    </message>
    <message>
        <source>&amp;About Storyreel</source>
        <translation>À &amp;propos de Storyreel</translation>
    </message>
    <message>
        <source>Export…</source>
        <translation>Exporter…</translation>
    </message>
    <message>
        <source>Ready</source>
        <translation>Prêt</translation>
    </message>
    <message>
        <source>Queued %1 run(s)</source>
        <translation>%1 génération(s) en file</translation>
    </message>
    <message>
        <source>Queued “%1”</source>
        <translation>« %1 » mise en file</translation>
    </message>
    <message>
        <source>Queued the typed idea</source>
        <translation>Idée saisie mise en file</translation>
    </message>
    <message>
        <source>Open idea files</source>
        <translation>Ouvrir des fichiers d’idées</translation>
    </message>
    <message>
        <source>Ideas (%1)</source>
        <translation>Idées (%1)</translation>
    </message>
    <message>
        <source>Opening a run</source>
        <translation>Ouverture d’une génération</translation>
    </message>
    <message>
        <source>“%1” %2: %3/%4 shots</source>
        <translation>« %1 » %2 : %3/%4 plans</translation>
    </message>
    <message>
        <source>“%1” failed</source>
        <translation>« %1 » a échoué</translation>
    </message>
    <message>
        <source>no shot could be made</source>
        <translation>aucun plan n’a pu être réalisé</translation>
    </message>
    <message>
        <source>Open a finished run to export it</source>
        <translation>Ouvrez une génération terminée pour l’exporter</translation>
    </message>
    <message>
        <source>The run is still working: export it once it has finished</source>
        <translation>La génération est encore en cours : exportez-la une fois terminée</translation>
    </message>
    <message>
        <source>Exported to %1</source>
        <translation>Exporté vers %1</translation>
    </message>
    <message>
        <source>Looking for interrupted runs</source>
        <translation>Recherche des générations interrompues</translation>
    </message>
    <message>
        <source>%1 unfinished run(s) are being rendered by another window or computer; they are left alone</source>
        <translation>%1 génération(s) inachevée(s) en cours dans une autre fenêtre ou sur un autre ordinateur : elles ne sont pas touchées</translation>
    </message>
    <message>
        <source> and %1 more</source>
        <translation> et %1 autre(s)</translation>
    </message>
    <message>
        <source>%1 interrupted run(s)</source>
        <translation>%1 génération(s) interrompue(s)</translation>
    </message>
    <message>
        <source>%1%2 did not finish last time. Resume renders only the missing shots.</source>
        <translation>%1%2 ne s’est pas terminé la dernière fois. La reprise ne rend que les plans manquants.</translation>
    </message>
    <message>
        <source>Resume</source>
        <translation>Reprendre</translation>
    </message>
    <message>
        <source>Applying the settings</source>
        <translation>Application des paramètres</translation>
    </message>
    <message>
        <source>Settings applied</source>
        <translation>Paramètres appliqués</translation>
    </message>
    <message>
        <source>About Storyreel</source>
        <translation>À propos de Storyreel</translation>
    </message>
    <message>
        <source>&lt;b&gt;Storyreel %1&lt;/b&gt;&lt;br&gt;From an idea to a storyboard: script, scenes, shots and an image for every shot.</source>
        <translation>&lt;b&gt;Storyreel %1&lt;/b&gt;&lt;br&gt;D’une idée à un storyboard : scénario, scènes, plans et une image pour chaque plan.</translation>
    </message>
    <message>
        <source>Quitting now cancels %1 running export(s); nothing is written for them.</source>
        <translation>Quitter maintenant annule %1 export(s) en cours ; rien n’est écrit pour eux.</translation>
    </message>
    <message>
        <source>Runs in progress</source>
        <translation>Générations en cours</translation>
    </message>
    <message>
        <source>%1 run(s) are still working. Keep their cloud jobs running and resume them next time (nothing is paid twice), or cancel them now (the shots already made are kept).</source>
        <translation>%1 génération(s) encore en cours. Laissez tourner leurs tâches dans le cloud et reprenez-les la prochaine fois (rien n’est payé deux fois), ou annulez-les maintenant (les plans déjà réalisés sont conservés).</translation>
    </message>
    <message>
        <source>Export in progress</source>
        <translation>Export en cours</translation>
    </message>
    <message>
        <source>Quit, resume later</source>
        <translation>Quitter, reprendre plus tard</translation>
    </message>
    <message>
        <source>Cancel runs and quit</source>
        <translation>Annuler et quitter</translation>
    </message>
    <message>
        <source>Cancel export and quit</source>
        <translation>Annuler l’export et quitter</translation>
    </message>
    <message>
        <source>Keep working</source>
        <translation>Continuer à travailler</translation>
    </message>
    <message>
        <source>Settings not used, running on embedded defaults</source>
        <translation>Paramètres ignorés, utilisation des valeurs intégrées par défaut</translation>
    </message>
    <message>
        <source>Open settings</source>
        <translation>Ouvrir les paramètres</translation>
    </message>
    <message>
        <source>Running on embedded defaults</source>
        <translation>Utilisation des valeurs intégrées par défaut</translation>
    </message>
    <message>
        <source>&amp;Edit</source>
        <translation>Édi&amp;tion</translation>
    </message>
</context>
<context>
    <name>MessageBar</name>
    <message>
        <source>Details</source>
        <translation>Détails</translation>
    </message>
    <message>
        <source>Copy details</source>
        <translation>Copier les détails</translation>
    </message>
    <message>
        <source>Dismiss</source>
        <translation>Fermer</translation>
    </message>
    <message>
        <source>+%1 more</source>
        <translation>+%1 autre(s)</translation>
    </message>
</context>
<context>
    <name>Parts</name>
    <message>
        <source>draft (offline)</source>
        <translation>brouillon (hors ligne)</translation>
    </message>
    <message>
        <source>OpenAI-compatible %1 at %2</source>
        <translation>compatible OpenAI %1 sur %2</translation>
    </message>
    <message>
        <source>R2 bucket %1</source>
        <translation>compartiment R2 %1</translation>
    </message>
    <message>
        <source>local folder %1</source>
        <translation>dossier local %1</translation>
    </message>
    <message>
        <source>embedded (%1)</source>
        <translation>base intégrée (%1)</translation>
    </message>
    <message>
        <source>Writer: %1</source>
        <translation>Rédaction : %1</translation>
    </message>
    <message>
        <source>Renderer: %1</source>
        <translation>Rendu : %1</translation>
    </message>
    <message>
        <source>Storage: %1</source>
        <translation>Stockage : %1</translation>
    </message>
    <message>
        <source>History: %1</source>
        <translation>Historique : %1</translation>
    </message>
</context>
<context>
    <name>RunDelegate</name>
    <message>
        <source>%1/%2 shots</source>
        <translation>%1/%2 plans</translation>
    </message>
</context>
<context>
    <name>RunListModel</name>
    <message>
        <source>GPU: %1 s billed, %2 s queued</source>
        <translation>GPU : %1 s facturées, %2 s en file d’attente</translation>
    </message>
    <message>
        <source>Loading a cover image</source>
        <translation>Chargement d’une vignette</translation>
    </message>
</context>
<context>
    <name>RunView</name>
    <message>
        <source>No run yet</source>
        <translation>Aucune génération pour l’instant</translation>
    </message>
    <message>
        <source>Retry failed</source>
        <translation>Relancer les échecs</translation>
    </message>
    <message>
        <source>Render the failed and cancelled shots again</source>
        <translation>Rendre à nouveau les plans en échec et annulés</translation>
    </message>
    <message>
        <source>Cancel run</source>
        <translation>Annuler la génération</translation>
    </message>
    <message>
        <source>Stop this run (Ctrl+.)</source>
        <translation>Arrêter cette génération (Ctrl+.)</translation>
    </message>
    <message>
        <source>Regenerate &amp;stale shots</source>
        <translation>Régénérer les plans &amp;périmés</translation>
    </message>
    <message>
        <source>Render again only the shots an edit made stale, with their seeds kept; their current images are kept as earlier versions (Ctrl+Shift+R)</source>
        <translation>Rendre à nouveau uniquement les plans qu’une modification a rendus périmés, avec les mêmes graines ; leurs images actuelles sont conservées comme versions précédentes (Ctrl+Maj+R)</translation>
    </message>
    <message>
        <source>The script appears here once it is written.</source>
        <translation>Le scénario apparaîtra ici une fois écrit.</translation>
    </message>
    <message>
        <source>The scenes appear here once they are planned.</source>
        <translation>Les scènes apparaîtront ici une fois découpées.</translation>
    </message>
    <message>
        <source>Storyboard</source>
        <translation>Storyboard</translation>
    </message>
    <message>
        <source>Script</source>
        <translation>Scénario</translation>
    </message>
    <message>
        <source>Scenes</source>
        <translation>Scènes</translation>
    </message>
    <message>
        <source>Nothing running</source>
        <translation>Aucune génération en cours</translation>
    </message>
    <message>
        <source>Start a storyboard from an idea, or open one from history.</source>
        <translation>Lancez un storyboard à partir d’une idée, ou ouvrez-en un depuis l’historique.</translation>
    </message>
    <message>
        <source>The look of %1 was not changed</source>
        <translation>L’apparence de %1 n’a pas été modifiée</translation>
    </message>
    <message>
        <source>Scene %1 was not changed</source>
        <translation>La scène %1 n’a pas été modifiée</translation>
    </message>
    <message>
        <source>Saved. No shot&apos;s image depends on it: nothing to render.</source>
        <translation>Enregistré. Aucune image de plan n’en dépend : rien à rendre.</translation>
    </message>
    <message>
        <source>Saved. 1 shot is now stale: “Regenerate stale shots” (Ctrl+Shift+R) renders it again.</source>
        <translation>Enregistré. 1 plan est maintenant périmé : « Régénérer les plans périmés » (Ctrl+Maj+R) le rend à nouveau.</translation>
    </message>
    <message>
        <source>Saved. %1 shots are now stale: “Regenerate stale shots” (Ctrl+Shift+R) renders them again.</source>
        <translation>Enregistré. %1 plans sont maintenant périmés : « Régénérer les plans périmés » (Ctrl+Maj+R) les rend à nouveau.</translation>
    </message>
    <message>
        <source>Writing a title…</source>
        <translation>Écriture du titre…</translation>
    </message>
    <message>
        <source>typed idea</source>
        <translation>idée saisie</translation>
    </message>
    <message>
        <source>%1 shots in %2 scenes</source>
        <translation>%1 plans dans %2 scènes</translation>
    </message>
    <message>
        <source>Finished: %1</source>
        <translation>Terminé : %1</translation>
    </message>
    <message>
        <source>Interrupted: not running in this window</source>
        <translation>Interrompu : ne tourne pas dans cette fenêtre</translation>
    </message>
    <message>
        <source> · %1/%2 shots</source>
        <translation> · %1/%2 plans</translation>
    </message>
    <message>
        <source> in %1 s</source>
        <translation> en %1 s</translation>
    </message>
    <message>
        <source>Scenes (%1)</source>
        <translation>Scènes (%1)</translation>
    </message>
    <message>
        <source>Regenerate stale shots (%1)</source>
        <translation>Régénérer les plans périmés (%1)</translation>
    </message>
    <message>
        <source>This run is still working: change its looks and scenes once it has finished.</source>
        <translation>Cette génération est encore en cours : modifiez ses apparences et ses scènes une fois qu’elle sera terminée.</translation>
    </message>
    <message>
        <source>Cancelling…</source>
        <translation>Annulation…</translation>
    </message>
    <message>
        <source>The frame of this board; changing it makes every shot stale</source>
        <translation>Le cadre de ce storyboard ; le changer rend chaque plan périmé</translation>
    </message>
    <message>
        <source>Frame</source>
        <translation>Cadre</translation>
    </message>
    <message>
        <source>The board&apos;s running time: every shot&apos;s duration, summed</source>
        <translation>La durée du storyboard : la somme des durées de ses plans</translation>
    </message>
    <message>
        <source>1 shot is now stale</source>
        <translation>1 plan est maintenant périmé</translation>
    </message>
    <message>
        <source>%1 shots are now stale</source>
        <translation>%1 plans sont maintenant périmés</translation>
    </message>
    <message>
        <source>Change the frame to %1?</source>
        <translation>Passer le cadre en %1 ?</translation>
    </message>
    <message>
        <source>Every shot goes stale: “Regenerate stale shots” draws them again at %1. Undo (Ctrl+Z) goes back to %2.</source>
        <translation>Chaque plan devient périmé : « Régénérer les plans périmés » les redessine en %1. Annuler (Ctrl+Z) revient en %2.</translation>
    </message>
    <message>
        <source>Change the frame</source>
        <translation>Changer le cadre</translation>
    </message>
    <message>
        <source>Keep %1</source>
        <translation>Garder %1</translation>
    </message>
    <message>
        <source>Frame %1</source>
        <translation>Cadre %1</translation>
    </message>
    <message>
        <source>Running time %1</source>
        <translation>Durée %1</translation>
    </message>
    <message>
        <source>This run is still working: change its shots once it has finished.</source>
        <translation>Ce storyboard est encore en cours : modifiez ses plans une fois qu’il est terminé.</translation>
    </message>
</context>
<context>
    <name>SceneEditor</name>
    <message>
        <source>INT. PLACE - TIME</source>
        <translation>INT. LIEU - MOMENT</translation>
    </message>
    <message>
        <source>Heading of scene %1</source>
        <translation>En-tête de la scène %1</translation>
    </message>
    <message>
        <source>What happens in this scene</source>
        <translation>Ce qui se passe dans cette scène</translation>
    </message>
    <message>
        <source>Summary of scene %1</source>
        <translation>Résumé de la scène %1</translation>
    </message>
    <message>
        <source>1 shot</source>
        <translation>1 plan</translation>
    </message>
    <message>
        <source>%1 shots</source>
        <translation>%1 plans</translation>
    </message>
    <message>
        <source>, %1 done</source>
        <translation>, %1 terminé(s)</translation>
    </message>
    <message>
        <source>, %1 failed</source>
        <translation>, %1 en échec</translation>
    </message>
    <message>
        <source>%1 stale</source>
        <translation>%1 périmé(s)</translation>
    </message>
</context>
<context>
    <name>ScenesPage</name>
    <message>
        <source>Cast</source>
        <translation>Distribution</translation>
    </message>
    <message>
        <source>No named characters in this story.</source>
        <translation>Aucun personnage nommé dans cette histoire.</translation>
    </message>
    <message>
        <source>Scenes</source>
        <translation>Scènes</translation>
    </message>
    <message>
        <source>Change a look or a scene and press Apply (Ctrl+S): the shots it changes are marked stale, then “Regenerate stale shots” renders only those, with their seeds kept.</source>
        <translation>Modifiez une apparence ou une scène puis appuyez sur Appliquer (Ctrl+S) : les plans concernés sont marqués périmés, puis « Régénérer les plans périmés » ne rend que ceux-là, avec les mêmes graines.</translation>
    </message>
</context>
<context>
    <name>ScriptView</name>
    <message>
        <source>1 shot</source>
        <translation>1 plan</translation>
    </message>
    <message>
        <source>%1 shots</source>
        <translation>%1 plans</translation>
    </message>
    <message>
        <source>, %1 done</source>
        <translation>, %1 terminé(s)</translation>
    </message>
    <message>
        <source>, %1 failed</source>
        <translation>, %1 en échec</translation>
    </message>
</context>
<context>
    <name>Session</name>
    <message>
        <source>Running ideas</source>
        <translation>Génération des idées</translation>
    </message>
    <message>
        <source>Retrying shots</source>
        <translation>Nouvelle tentative des plans</translation>
    </message>
    <message>
        <source>Regenerating a shot</source>
        <translation>Régénération d’un plan</translation>
    </message>
    <message>
        <source>Regenerating stale shots</source>
        <translation>Régénération des plans périmés</translation>
    </message>
    <message>
        <source>Using an earlier version</source>
        <translation>Retour à une version précédente</translation>
    </message>
    <message>
        <source>Changing a look</source>
        <translation>Modification d’une apparence</translation>
    </message>
    <message>
        <source>Changing a scene</source>
        <translation>Modification d’une scène</translation>
    </message>
    <message>
        <source>Resuming runs</source>
        <translation>Reprise des générations</translation>
    </message>
    <message>
        <source>Closing the previous connections</source>
        <translation>Fermeture des connexions précédentes</translation>
    </message>
    <message>
        <source>Saving history</source>
        <translation>Enregistrement de l’historique</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>Writer</source>
        <translation>Rédaction</translation>
    </message>
    <message>
        <source>Renderer</source>
        <translation>Rendu</translation>
    </message>
    <message>
        <source>Storage</source>
        <translation>Stockage</translation>
    </message>
    <message>
        <source>History</source>
        <translation>Historique</translation>
    </message>
    <message>
        <source>General</source>
        <translation>Général</translation>
    </message>
    <message>
        <source>endpoint id of a RunPod vLLM worker (uses the RunPod key)</source>
        <translation>identifiant d’endpoint d’un worker vLLM RunPod (utilise la clé RunPod)</translation>
    </message>
    <message>
        <source>any OpenAI-compatible server, e.g. http://127.0.0.1:11434/v1</source>
        <translation>tout serveur compatible OpenAI, p. ex. http://127.0.0.1:11434/v1</translation>
    </message>
    <message>
        <source>model name on that server</source>
        <translation>nom du modèle sur ce serveur</translation>
    </message>
    <message>
        <source>also used by a RunPod writer</source>
        <translation>également utilisée par un rédacteur RunPod</translation>
    </message>
    <message>
        <source>endpoint id running the Storyreel shot worker</source>
        <translation>identifiant de l’endpoint qui exécute le worker de plans Storyreel</translation>
    </message>
    <message>
        <source>instead of the endpoint URL</source>
        <translation>à la place de l’URL de l’endpoint</translation>
    </message>
    <message>
        <source>mongodb+srv://… (empty: embedded store)</source>
        <translation>mongodb+srv://… (vide : base intégrée)</translation>
    </message>
    <message>
        <source>shots rendered at once (8)</source>
        <translation>plans rendus simultanément (8)</translation>
    </message>
    <message>
        <source>attempts per shot (3)</source>
        <translation>tentatives par plan (3)</translation>
    </message>
    <message>
        <source>US dollars per GPU second, for cost estimates, e.g. 0.00044</source>
        <translation>dollars US par seconde de GPU, pour estimer les coûts, p. ex. 0.00044</translation>
    </message>
    <message>
        <source>draft writer, offline</source>
        <translation>rédacteur brouillon, hors ligne</translation>
    </message>
    <message>
        <source>draft renderer, offline</source>
        <translation>rendu brouillon, hors ligne</translation>
    </message>
    <message>
        <source>local folder</source>
        <translation>dossier local</translation>
    </message>
    <message>
        <source>embedded store</source>
        <translation>base intégrée</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>Paramètres</translation>
    </message>
    <message>
        <source>Leave a field empty to use the embedded default. Saved to %1; changes apply at once.</source>
        <translation>Laissez un champ vide pour utiliser la valeur intégrée par défaut. Enregistré dans %1 ; les changements s’appliquent immédiatement.</translation>
    </message>
    <message>
        <source>Reading settings</source>
        <translation>Lecture des paramètres</translation>
    </message>
    <message>
        <source>Show</source>
        <translation>Afficher</translation>
    </message>
    <message>
        <source>Show or hide the value</source>
        <translation>Afficher ou masquer la valeur</translation>
    </message>
    <message>
        <source>The data folder is chosen with the STORYREEL_HOME environment variable, before the app starts</source>
        <translation>Le dossier de données se choisit avec la variable d’environnement STORYREEL_HOME, avant le démarrage de l’application</translation>
    </message>
    <message>
        <source>Set in the environment, which wins over this file</source>
        <translation>Défini dans l’environnement, qui l’emporte sur ce fichier</translation>
    </message>
    <message>
        <source>Test</source>
        <translation>Tester</translation>
    </message>
    <message>
        <source>Saving settings</source>
        <translation>Enregistrement des paramètres</translation>
    </message>
    <message>
        <source>Testing %1…</source>
        <translation>Test de %1…</translation>
    </message>
    <message>
        <source>Testing: %1</source>
        <translation>Test : %1</translation>
    </message>
    <message>
        <source>%1: %2</source>
        <comment>what was tested, then its answer</comment>
        <translation>%1 : %2</translation>
    </message>
</context>
<context>
    <name>ShotDelegate</name>
    <message>
        <source>image unavailable</source>
        <translation>image indisponible</translation>
    </message>
    <message>
        <source>loading image…</source>
        <translation>chargement de l’image…</translation>
    </message>
    <message>
        <source>rendering…</source>
        <translation>rendu en cours…</translation>
    </message>
    <message>
        <source>stale</source>
        <translation>périmé</translation>
    </message>
</context>
<context>
    <name>ShotDetailDialog</name>
    <message>
        <source>load</source>
        <translation>chargement</translation>
    </message>
    <message>
        <source>render</source>
        <translation>rendu</translation>
    </message>
    <message>
        <source>encode</source>
        <translation>encodage</translation>
    </message>
    <message>
        <source>upload</source>
        <translation>envoi</translation>
    </message>
    <message>
        <source>GPU</source>
        <translation>GPU</translation>
    </message>
    <message>
        <source>GPU of failed attempts</source>
        <translation>GPU des tentatives échouées</translation>
    </message>
    <message>
        <source>queue</source>
        <translation>file d’attente</translation>
    </message>
    <message>
        <source>total</source>
        <translation>total</translation>
    </message>
    <message>
        <source>This image and the ones it replaced: pick one to see it</source>
        <translation>Cette image et celles qu’elle a remplacées : choisissez-en une pour la voir</translation>
    </message>
    <message>
        <source>The prompt this version was drawn from</source>
        <translation>Le prompt à partir duquel cette version a été dessinée</translation>
    </message>
    <message>
        <source>&amp;Use this version</source>
        <translation>&amp;Utiliser cette version</translation>
    </message>
    <message>
        <source>Make the version shown the shot&apos;s image; the current one is kept as a version</source>
        <translation>Faire de la version affichée l’image du plan ; l’image actuelle est conservée comme version</translation>
    </message>
    <message>
        <source>New seed</source>
        <translation>Nouvelle graine</translation>
    </message>
    <message>
        <source>Status</source>
        <translation>État</translation>
    </message>
    <message>
        <source>Shot</source>
        <translation>Plan</translation>
    </message>
    <message>
        <source>Dialogue</source>
        <translation>Dialogue</translation>
    </message>
    <message>
        <source>Prompt</source>
        <translation>Prompt</translation>
    </message>
    <message>
        <source>Seed</source>
        <translation>Graine</translation>
    </message>
    <message>
        <source>Timings</source>
        <translation>Durées</translation>
    </message>
    <message>
        <source>Job</source>
        <translation>Tâche</translation>
    </message>
    <message>
        <source>Retry</source>
        <translation>Relancer</translation>
    </message>
    <message>
        <source>Regenerate</source>
        <translation>Régénérer</translation>
    </message>
    <message>
        <source>Render again with a new seed, or with the seed and prompt set here; the current image is kept as a previous version</source>
        <translation>Rendre à nouveau avec une nouvelle graine, ou avec la graine et le prompt indiqués ici ; l’image actuelle est conservée comme version précédente</translation>
    </message>
    <message>
        <source>Shot %1</source>
        <translation>Plan %1</translation>
    </message>
    <message>
        <source>Stale: %1. “Regenerate stale shots” in the run view renders it again with the change and this seed.</source>
        <translation>Périmé : %1. « Régénérer les plans périmés » dans la vue de la génération le rend à nouveau avec la modification et cette graine.</translation>
    </message>
    <message>
        <source>attempt %1</source>
        <translation>tentative %1</translation>
    </message>
    <message>
        <source>Wait until the run has finished</source>
        <translation>Attendez la fin de la génération</translation>
    </message>
    <message>
        <source>v%1</source>
        <translation>v%1</translation>
    </message>
    <message>
        <source>v%1 · current</source>
        <translation>v%1 · actuelle</translation>
    </message>
    <message>
        <source>Version %1, the current image · seed %2</source>
        <translation>Version %1, l’image actuelle · graine %2</translation>
    </message>
    <message>
        <source>Version %1 · seed %2 · replaced %3</source>
        <translation>Version %1 · graine %2 · remplacée le %3</translation>
    </message>
    <message>
        <source>Loading a version&apos;s picture</source>
        <translation>Chargement de l’image d’une version</translation>
    </message>
    <message>
        <source>This is the current image: pick an earlier version above</source>
        <translation>C’est l’image actuelle : choisissez une version précédente ci-dessus</translation>
    </message>
    <message>
        <source>Rendering…</source>
        <translation>Rendu en cours…</translation>
    </message>
    <message>
        <source>Queued</source>
        <translation>En file d’attente</translation>
    </message>
    <message>
        <source>No image: the shot failed</source>
        <translation>Pas d’image : le plan a échoué</translation>
    </message>
    <message>
        <source>No image: the shot was cancelled</source>
        <translation>Pas d’image : le plan a été annulé</translation>
    </message>
    <message>
        <source>Loading image…</source>
        <translation>Chargement de l’image…</translation>
    </message>
    <message>
        <source>Loading the shot image</source>
        <translation>Chargement de l’image du plan</translation>
    </message>
    <message>
        <source>Image unavailable: %1</source>
        <translation>Image indisponible : %1</translation>
    </message>
</context>
<context>
    <name>ShotEditor</name>
    <message>
        <source>Close</source>
        <translation>Fermer</translation>
    </message>
    <message>
        <source>Hide the shot editor (select a card to open it again)</source>
        <translation>Masquer l’éditeur de plan (sélectionnez une vignette pour le rouvrir)</translation>
    </message>
    <message>
        <source>names, separated by commas</source>
        <translation>noms, séparés par des virgules</translation>
    </message>
    <message>
        <source> s</source>
        <translation> s</translation>
    </message>
    <message>
        <source>How long the shot is held in the animatic and the timeline; at the lowest value, the time its dialogue takes</source>
        <translation>Le temps que le plan reste à l’écran dans l’animatique et la timeline ; à la valeur la plus basse, le temps que prend son dialogue</translation>
    </message>
    <message>
        <source>for you: never drawn</source>
        <translation>pour vous : jamais dessinée</translation>
    </message>
    <message>
        <source>Apply</source>
        <translation>Appliquer</translation>
    </message>
    <message>
        <source>Save these fields as one step (Ctrl+S); a change to what the picture shows makes the shot stale</source>
        <translation>Enregistrer ces champs en une étape (Ctrl+S) ; un changement de ce que montre l’image rend le plan périmé</translation>
    </message>
    <message>
        <source>Draw now</source>
        <translation>Dessiner maintenant</translation>
    </message>
    <message>
        <source>Draw this new shot now, rather than with the next “Regenerate stale shots”</source>
        <translation>Dessiner ce nouveau plan maintenant, plutôt qu’au prochain « Régénérer les plans périmés »</translation>
    </message>
    <message>
        <source>Revert</source>
        <translation>Revenir</translation>
    </message>
    <message>
        <source>Show the shot&apos;s saved fields again</source>
        <translation>Réafficher les champs enregistrés du plan</translation>
    </message>
    <message>
        <source>Description</source>
        <translation>Description</translation>
    </message>
    <message>
        <source>Framing</source>
        <translation>Cadrage</translation>
    </message>
    <message>
        <source>Camera</source>
        <translation>Caméra</translation>
    </message>
    <message>
        <source>Dialogue</source>
        <translation>Dialogue</translation>
    </message>
    <message>
        <source>Characters</source>
        <translation>Personnages</translation>
    </message>
    <message>
        <source>Duration</source>
        <translation>Durée</translation>
    </message>
    <message>
        <source>Note</source>
        <translation>Note</translation>
    </message>
    <message>
        <source>Shot %1</source>
        <translation>Plan %1</translation>
    </message>
    <message>
        <source>No shot selected</source>
        <translation>Aucun plan sélectionné</translation>
    </message>
    <message>
        <source>Stale: %1. “Regenerate stale shots” (Ctrl+Shift+R) draws it again.</source>
        <translation>Périmé : %1. « Régénérer les plans périmés » (Ctrl+Maj+R) le redessine.</translation>
    </message>
    <message>
        <source>from dialogue: %1</source>
        <translation>selon le dialogue : %1</translation>
    </message>
</context>
<context>
    <name>ShotModel</name>
    <message>
        <source>%1&apos;s look changed</source>
        <translation>l’apparence de %1 a changé</translation>
    </message>
    <message>
        <source>scene %1 changed</source>
        <translation>la scène %1 a changé</translation>
    </message>
    <message>
        <source>stale: %1</source>
        <translation>périmé : %1</translation>
    </message>
    <message>
        <source>Shot %1, %2: %3</source>
        <translation>Plan %1, %2 : %3</translation>
    </message>
    <message>
        <source> (stale: %1)</source>
        <translation> (périmé : %1)</translation>
    </message>
    <message>
        <source>Stale: %1. Its image was made before that change; “Regenerate stale shots” renders it again with the same seed.</source>
        <translation>Périmé : %1. Son image date d’avant cette modification ; « Régénérer les plans périmés » la rend à nouveau avec la même graine.</translation>
    </message>
    <message>
        <source>%1 earlier versions (open the shot to use one)</source>
        <translation>%1 versions précédentes (ouvrez le plan pour en utiliser une)</translation>
    </message>
    <message>
        <source>new shot, not drawn yet</source>
        <translation>nouveau plan, pas encore dessiné</translation>
    </message>
    <message>
        <source>moved from scene %1 to scene %2</source>
        <translation>déplacé de la scène %1 à la scène %2</translation>
    </message>
    <message>
        <source>the frame changed to %1</source>
        <translation>le cadre est passé en %1</translation>
    </message>
    <message>
        <source>%1 and %2</source>
        <translation>%1 et %2</translation>
    </message>
    <message>
        <source>its %1 changed</source>
        <translation>modification : %1</translation>
    </message>
    <message>
        <source>description</source>
        <translation>description</translation>
    </message>
    <message>
        <source>framing</source>
        <translation>cadrage</translation>
    </message>
    <message>
        <source>camera move</source>
        <translation>mouvement de caméra</translation>
    </message>
    <message>
        <source>cast</source>
        <translation>distribution</translation>
    </message>
</context>
<context>
    <name>ShotType</name>
    <message>
        <source>extreme wide</source>
        <translation>plan général</translation>
    </message>
    <message>
        <source>wide</source>
        <translation>plan d’ensemble</translation>
    </message>
    <message>
        <source>medium</source>
        <translation>plan taille</translation>
    </message>
    <message>
        <source>medium close-up</source>
        <translation>plan poitrine</translation>
    </message>
    <message>
        <source>close-up</source>
        <translation>gros plan</translation>
    </message>
    <message>
        <source>extreme close-up</source>
        <translation>très gros plan</translation>
    </message>
    <message>
        <source>two-shot</source>
        <translation>plan à deux</translation>
    </message>
    <message>
        <source>over the shoulder</source>
        <translation>par-dessus l’épaule</translation>
    </message>
    <message>
        <source>point of view</source>
        <translation>plan subjectif</translation>
    </message>
    <message>
        <source>insert</source>
        <translation>insert</translation>
    </message>
</context>
<context>
    <name>Status</name>
    <message>
        <source>%1, %2</source>
        <comment>a date, then a time</comment>
        <translation>%1 à %2</translation>
    </message>
    <message>
        <source>waiting to retry</source>
        <translation>nouvelle tentative en attente</translation>
    </message>
    <message>
        <source>queued</source>
        <translation>en file d’attente</translation>
    </message>
    <message>
        <source>rendering</source>
        <translation>rendu en cours</translation>
    </message>
    <message>
        <source>rendering · %1 s</source>
        <translation>rendu en cours · %1 s</translation>
    </message>
    <message>
        <source>done</source>
        <translation>terminé</translation>
    </message>
    <message>
        <source>done in %1 s</source>
        <translation>terminé en %1 s</translation>
    </message>
    <message>
        <source>failed: %1</source>
        <translation>échec : %1</translation>
    </message>
    <message>
        <source>failed</source>
        <translation>en échec</translation>
    </message>
    <message>
        <source>cancelled</source>
        <translation>annulé</translation>
    </message>
    <message>
        <source>running</source>
        <translation>en cours</translation>
    </message>
    <message>
        <source>completed</source>
        <translation>terminée</translation>
    </message>
    <message>
        <source>partly done</source>
        <translation>partiellement terminée</translation>
    </message>
    <message>
        <source>rendering shots %1/%2</source>
        <translation>rendu des plans %1/%2</translation>
    </message>
    <message>
        <source>, %1 in flight</source>
        <translation>, %1 en cours</translation>
    </message>
    <message>
        <source>, %1 failed</source>
        <translation>, %1 en échec</translation>
    </message>
    <message>
        <source>writing the script</source>
        <translation>écriture du scénario</translation>
    </message>
    <message>
        <source>planning scenes and shots</source>
        <translation>découpage en scènes et en plans</translation>
    </message>
</context>
<context>
    <name>ThumbnailLoader</name>
    <message>
        <source>Loading a shot image</source>
        <translation>Chargement d’une image de plan</translation>
    </message>
</context>
<context>
    <name>errors</name>
    <message>
        <source>Correct it in File › Settings.</source>
        <translation>Corrigez-le dans Fichier › Paramètres.</translation>
    </message>
    <message>
        <source>Check the idea or the file, then try again.</source>
        <translation>Vérifiez l’idée ou le fichier, puis réessayez.</translation>
    </message>
    <message>
        <source>It may have been deleted meanwhile: refresh the history.</source>
        <translation>Elle a peut-être été supprimée entre-temps : actualisez l’historique.</translation>
    </message>
    <message>
        <source>Check the history settings (File › Settings) and the connection, then try again.</source>
        <translation>Vérifiez les réglages de l’historique (Fichier › Paramètres) et la connexion, puis réessayez.</translation>
    </message>
    <message>
        <source>Check the R2 keys in File › Settings.</source>
        <translation>Vérifiez les clés R2 dans Fichier › Paramètres.</translation>
    </message>
    <message>
        <source>Check the R2 bucket name in File › Settings.</source>
        <translation>Vérifiez le nom du compartiment R2 dans Fichier › Paramètres.</translation>
    </message>
    <message>
        <source>Free some space on that disk (or make it writable), then try again: an unfinished run resumes from History.</source>
        <translation>Libérez de la place sur ce disque (ou rendez-le inscriptible), puis réessayez : une génération inachevée reprend depuis l’historique.</translation>
    </message>
    <message>
        <source>The image is no longer in storage: render the shot again.</source>
        <translation>L’image n’est plus dans le stockage : refaites le rendu du plan.</translation>
    </message>
    <message>
        <source>Check the storage settings (File › Settings) and the connection, then try again.</source>
        <translation>Vérifiez les réglages du stockage (Fichier › Paramètres) et la connexion, puis réessayez.</translation>
    </message>
    <message>
        <source>Try again, or check the writer in File › Settings.</source>
        <translation>Réessayez, ou vérifiez la rédaction dans Fichier › Paramètres.</translation>
    </message>
    <message>
        <source>Retry the shot, or check the renderer in File › Settings.</source>
        <translation>Relancez le plan, ou vérifiez le rendu dans Fichier › Paramètres.</translation>
    </message>
    <message>
        <source>Check the API key in File › Settings.</source>
        <translation>Vérifiez la clé d’API dans Fichier › Paramètres.</translation>
    </message>
    <message>
        <source>Check the connection and the settings (File › Settings), then try again.</source>
        <translation>Vérifiez la connexion et les paramètres (Fichier › Paramètres), puis réessayez.</translation>
    </message>
    <message>
        <source>Check the file and its folder, then try again.</source>
        <translation>Vérifiez le fichier et son dossier, puis réessayez.</translation>
    </message>
    <message>
        <source>It took too long and was given up. Try again in a moment.</source>
        <translation>L’opération a pris trop de temps et a été abandonnée. Réessayez dans un instant.</translation>
    </message>
    <message>
        <source>An unexpected error (%1) was logged and written to %2. The app keeps running; if this happens again, please report it with the details.</source>
        <translation>Une erreur inattendue (%1) a été consignée dans %2. L’application continue de fonctionner ; si cela se reproduit, signalez-la avec les détails.</translation>
    </message>
    <message>
        <source>An unexpected error (%1) was logged. The app keeps running; if this happens again, please report it with the details.</source>
        <translation>Une erreur inattendue (%1) a été consignée. L’application continue de fonctionner ; si cela se reproduit, signalez-la avec les détails.</translation>
    </message>
    <message>
        <source>Something went wrong</source>
        <translation>Un problème est survenu</translation>
    </message>
</context>
</TS>
