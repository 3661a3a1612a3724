package report

import (
	"fmt"
	"io"
)

// pageSize is the number of rows the per-file table shows at once.
const pageSize = 100

// tableScript pages and filters the rows inlined in #rows. Rows are
// [path, size, hash, source, [dest statuses], error].
const tableScript = `(function(){
var rows=JSON.parse(document.getElementById("rows").textContent),view,page=0,N=%d;
rows.sort(function(a,b){return a[0]<b[0]?-1:a[0]>b[0]?1:0});view=rows;
var q=document.getElementById("q"),st=document.getElementById("st"),body=document.getElementById("body"),info=document.getElementById("info");
function esc(s){return String(s).replace(/[&<>"]/g,function(c){return{"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]})}
function hb(n){var u=["B","KiB","MiB","GiB","TiB"],i=0;while(n>=1024&&i<4){n/=1024;i++}return i?n.toFixed(1)+" "+u[i]:n+" B"}
function bad(r){return r[5]!==""||r[3]==="changed"||r[3]==="error"||r[4].indexOf("failed")>=0}
function td(s){return '<td class="s-'+esc(s)+'">'+esc(s)+"</td>"}
function draw(){var a=page*N,h="";for(var i=a;i<Math.min(a+N,view.length);i++){var r=view[i];
h+='<tr><td class="path">'+esc(r[0])+'</td><td class="n">'+hb(r[1])+'</td><td class="h">'+esc(r[2])+"</td>"+td(r[3]);
for(var j=0;j<r[4].length;j++)h+=td(r[4][j]);h+='<td class="err">'+esc(r[5])+"</td></tr>"}
body.innerHTML=h;var pages=Math.max(1,Math.ceil(view.length/N));
info.textContent="page "+(page+1)+" of "+pages+", "+view.length+" of "+rows.length+" files"}
function filter(){var s=q.value.toLowerCase(),m=st.value;view=rows.filter(function(r){
if(m==="failed"&&!bad(r))return false;if(m==="ok"&&bad(r))return false;return s===""||r[0].toLowerCase().indexOf(s)>=0});page=0;draw()}
q.oninput=filter;st.onchange=filter;
document.getElementById("prev").onclick=function(){if(page>0){page--;draw()}};
document.getElementById("next").onclick=function(){if((page+1)*N<view.length){page++;draw()}};
draw()})();`

// tableHTML writes the per-file table: controls, an empty body the
// script fills page by page, and the rows, streamed from the temp file
// into a JSON array: every row, or past maxPageRows the failed ones
// first, then the others in path order (shownRows), said so with the
// name of the CSV, csvName, that has them all.
func (b *Builder) tableHTML(w io.Writer, csvName string) error {
	left := ""
	if b.shown.dropped {
		left = fmt.Sprintf("<p id=\"capped\">This page lists %d of the %d files: the failed ones first, then the others in path order. <code>%s</code> beside it has every row.</p>\n",
			min(b.rows, len(b.shown.keys)), b.rows, esc(csvName))
	}
	head := fmt.Sprintf(`<h2>Files</h2>
%s<div id="controls"><input id="q" type="search" placeholder="filter by path"><select id="st"><option value="">all files</option><option value="failed">failed</option><option value="ok">not failed</option></select></div>
<div id="pager"><button id="prev">&larr; previous</button><span id="info"></span><button id="next">next &rarr;</button></div>
<noscript><p>The per-file table needs JavaScript; the CSV beside this report has every row.</p></noscript>
<table id="files">%s<tbody id="body"></tbody></table>
<script type="application/json" id="rows">[`, left, b.headRow())
	if _, err := io.WriteString(w, head); err != nil {
		return err
	}
	shown := 0
	var buf []byte
	err := b.eachRow(func(r *Row, _ []byte) error {
		if !b.shown.shows(rowKey(r), shown) {
			return nil
		}
		buf = buf[:0]
		if shown > 0 {
			buf = append(buf, ",\n"...)
		}
		shown++
		buf = appendRowJSON(buf, r)
		_, err := w.Write(buf)
		return err
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "]</script>\n<script>"+tableScript+"</script>\n<p><small>Written by cvv %s.</small></p>\n</body></html>\n", pageSize, esc(b.job.Version))
	return err
}
