// The catalog editor: when the server refused a document and named a line, put the cursor on that line.
(function () {
  "use strict";
  var editor = document.getElementById("document");
  if (!editor || !editor.dataset.errorLine) return;
  var line = parseInt(editor.dataset.errorLine, 10);
  var lines = editor.value.split("\n");
  if (!(line >= 1 && line <= lines.length)) return;
  var start = 0;
  for (var i = 0; i < line - 1; i++) start += lines[i].length + 1;
  editor.focus({ preventScroll: true });
  editor.setSelectionRange(start, start + lines[line - 1].length);
  var height = editor.scrollHeight / Math.max(lines.length, 1);
  editor.scrollTop = Math.max(0, (line - 4) * height);
})();
