-- wrk script for bench/intake.sh: POST /api/v1/cases with a unique external id per request,
-- points near Luohu's metro stations. The token comes from the environment (CITYDESK_TOKEN).
local token = os.getenv("CITYDESK_TOKEN")
local threads = {}
local counter = 0
local tid = 0

function setup(thread)
	thread:set("tid", #threads + 1)
	table.insert(threads, thread)
end

function init(args)
	tid = wrk.thread:get("tid") or 0
	math.randomseed(tid * 7919)
end

-- The 30 metro stations inside Luohu (data/luohu/metro-stations.wgs84.geojson), lat/lng; the
-- three on the western edge (银湖, 红岭, 红岭南) moved ~100 m east so jittered points stay inside.
local stations = {
	{22.583520, 114.108051}, {22.572500, 114.087500}, {22.570258, 114.092766}, {22.551052, 114.100600},
	{22.542468, 114.100900}, {22.538065, 114.103920}, {22.538116, 114.112972}, {22.542546, 114.120768},
	{22.545132, 114.125940}, {22.576180, 114.132075}, {22.569765, 114.124022}, {22.568814, 114.117758},
	{22.566073, 114.106112}, {22.583744, 114.132979}, {22.558575, 114.135072}, {22.548801, 114.130989},
	{22.547656, 114.111279}, {22.552042, 114.117678}, {22.559104, 114.125039}, {22.576642, 114.119844},
	{22.587241, 114.111267}, {22.560322, 114.178480}, {22.566902, 114.169466}, {22.566776, 114.161329},
	{22.556139, 114.150347}, {22.550407, 114.143944}, {22.546976, 114.120212}, {22.543879, 114.102986},
	{22.534289, 114.113806}, {22.542333, 114.113826},
}

local descriptions = {
	"东门老街路口井盖缺失，很危险",
	"小区门口垃圾堆积无人清理，气味很大",
	"人行道上共享单车乱停放，阻碍通行",
	"路灯不亮已经一周了，晚上走路不安全",
	"商铺占道经营，晚上噪音扰民",
}

-- The request line and headers are the same for every request: built once per thread, as
-- wrk.format would build them, so that the load generator, which shares the server's two
-- cores, spends its time on what changes (wrk.format's table of headers and five
-- string.formats per request cost about 3 us of wrk's ~11 us per request here).
local head = nil

function request()
	counter = counter + 1
	if not head then
		head = "POST /api/v1/cases HTTP/1.1\r\nHost: " .. wrk.headers["Host"] ..
			"\r\nContent-Type: application/json\r\nAuthorization: Bearer " .. token ..
			"\r\nContent-Length: "
	end
	-- Within about 100 m of a station: inside the district, spread over many grid cells.
	local st = stations[math.random(#stations)]
	local lat = st[1] + (math.random() - 0.5) * 0.0018
	local lng = st[2] + (math.random() - 0.5) * 0.0018
	local body = string.format(
		'{"channel":"system","external_id":"bench-%d-%d-%d","description":"%s","lat":%.6f,"lng":%.6f,"category":"UM06010"}',
		os.time(), tid, counter, descriptions[(counter % #descriptions) + 1], lat, lng)
	return head .. #body .. "\r\n\r\n" .. body
end

function done(summary, latency, requests)
	local errors = summary.errors.status + summary.errors.connect + summary.errors.read +
		summary.errors.write + summary.errors.timeout
	io.write(string.format("INTAKE %d %.0f %.2f %.2f %d\n", summary.requests,
		summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
		latency:percentile(99) / 1000, errors))
end
