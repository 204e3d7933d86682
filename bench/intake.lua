-- wrk script for bench/intake.sh: POST /api/v1/cases with a unique external id per request,
-- points spread over central Luohu. The token comes from the environment (CITYDESK_TOKEN).
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

local descriptions = {
	"东门老街路口井盖缺失，很危险",
	"小区门口垃圾堆积无人清理，气味很大",
	"人行道上共享单车乱停放，阻碍通行",
	"路灯不亮已经一周了，晚上走路不安全",
	"商铺占道经营，晚上噪音扰民",
}

function request()
	counter = counter + 1
	local lat = 22.540 + math.random() * 0.020
	local lng = 114.105 + math.random() * 0.030
	local body = string.format(
		'{"channel":"system","external_id":"bench-%d-%d-%d","description":"%s","lat":%.6f,"lng":%.6f,"category":"UM06010"}',
		os.time(), tid, counter, descriptions[(counter % #descriptions) + 1], lat, lng)
	return wrk.format("POST", "/api/v1/cases", {
		["Content-Type"] = "application/json",
		["Authorization"] = "Bearer " .. token,
	}, body)
end

function done(summary, latency, requests)
	local errors = summary.errors.status + summary.errors.connect + summary.errors.read +
		summary.errors.write + summary.errors.timeout
	io.write(string.format("INTAKE %d %.0f %.2f %.2f %d\n", summary.requests,
		summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
		latency:percentile(99) / 1000, errors))
end
